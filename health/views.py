"""The portal's own health endpoints for orchestration."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from incidents.public.freshness import snapshot_freshness


@never_cache
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        cache.set("health:ready", "1", 5)
        checks["redis"] = "ok" if cache.get("health:ready") == "1" else "error: no round trip"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    # The public status page is served from a snapshot the worker rebuilds: a
    # stale one means the page shows old information while everything looks up.
    snapshot = snapshot_freshness()
    checks["status_snapshot"] = "ok" if snapshot.ok else f"error: {snapshot.state}"
    ok = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks, "database": settings.DB_VENDOR,
         "status_snapshot": snapshot.as_dict()},
        status=200 if ok else 503,
    )  # fmt: skip
