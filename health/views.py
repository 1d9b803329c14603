"""The portal's own health endpoints for orchestration."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from health import observability
from incidents.public.freshness import snapshot_freshness


@never_cache
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    # Each dependency is checked in a thread with one shared deadline: a hanging
    # PostgreSQL or Redis makes this answer 503 within about a second, naming it.
    results = observability.run_checks(
        {"database": observability.check_database, "redis": observability.check_cache, "broker": observability.check_broker}
    )
    checks: dict[str, str] = {name: "ok" if r["ok"] else f"error: {r['error']}" for name, r in results.items()}
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
