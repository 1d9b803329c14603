"""The portal's own health in detail (`/health/detailed`) and Prometheus metrics
(`/metrics`).

Every dependency check runs in a thread with a deadline, so one hanging
dependency costs at most DEADLINE seconds, not its client's timeout. Metrics about
shared state (probes, lag, alerts, queues) are read from the database and Redis at
scrape time, so any web process answers for the whole portal; HTTP request metrics
are per process (set PROMETHEUS_MULTIPROC_DIR to aggregate several processes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Under the 1 s an orchestrator gives a readiness probe, with room for the rest of the answer.
DEADLINE = 0.8
QUEUES = ("default", "alerts", "snapshots", "runbooks")

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="health-check")


def _timed(check: Callable[[], Any]) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        began = time.perf_counter()
        try:
            detail = check()
        except Exception as exc:  # noqa: BLE001 - a failing dependency is the answer
            return {"ok": False, "error": type(exc).__name__, "detail": str(exc)[:200], "ms": round((time.perf_counter() - began) * 1000, 1)}
        finally:
            # this thread's connection, if the check opened one (queue depths read the
            # locations): back to the pool when there is one, never left open idle
            connection.close()
        return {"ok": True, "ms": round((time.perf_counter() - began) * 1000, 1), **(detail or {})}

    return run


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_cache() -> None:
    cache.set("health:detailed", "1", 5)
    if cache.get("health:detailed") != "1":
        raise RuntimeError("no round trip")


def _broker_client() -> Any:
    from portal.celery import app

    return app.connection_for_write().channel().client


def check_broker() -> None:
    if not _broker_client().ping():
        raise RuntimeError("no PONG")


def _broker() -> dict[str, Any]:
    return {"queues": queue_depths()}


def queue_depths() -> dict[str, int]:
    """Messages waiting per Celery queue (kombu keeps a Redis list per queue)."""
    from health.models import Location

    client = _broker_client()
    names = [*QUEUES, *(f"probes.{name}" for name in Location.objects.values_list("name", flat=True))]
    pipe = client.pipeline()
    for name in names:
        pipe.llen(name)
    return dict(zip(names, (int(n) for n in pipe.execute()), strict=True))


def run_checks(checks: dict[str, Callable[[], Any]], deadline: float = DEADLINE) -> dict[str, dict[str, Any]]:
    futures = {name: _pool.submit(_timed(check)) for name, check in checks.items()}
    stop = time.monotonic() + deadline
    out: dict[str, dict[str, Any]] = {}
    for name, future in futures.items():
        try:
            out[name] = future.result(timeout=max(0.0, stop - time.monotonic()))
        except FutureTimeout:
            out[name] = {"ok": False, "error": f"no answer within {deadline:g} s"}
    return out


def detailed() -> tuple[dict[str, Any], bool]:
    from health.models import Location
    from portal.tasks import BEAT_HEARTBEAT_KEY

    checks = run_checks({"database": check_database, "redis": check_cache, "broker": _broker})
    body: dict[str, Any] = {"checks": checks}
    ok = all(c["ok"] for c in checks.values())
    if checks["redis"]["ok"]:
        body["beat_heartbeat"] = cache.get(BEAT_HEARTBEAT_KEY)
    if checks["database"]["ok"]:
        body["probe_locations"] = [
            {"name": loc.name, "last_batch_at": loc.last_batch_at.isoformat() if loc.last_batch_at else None,
             "self_check_ok": loc.last_self_check_ok}
            for loc in Location.objects.all()
        ]  # fmt: skip
    body["snapshot"] = _snapshot_age()
    body["status"] = "ok" if ok else "unavailable"
    return body, ok


def _snapshot_age() -> dict[str, Any]:
    from incidents.public import store

    path = store.file_path()
    age = round(time.time() - path.stat().st_mtime, 1) if path.exists() else None
    return {**store.status(), "file_age_seconds": age}


# --- Metrics ---------------------------------------------------------------------------

REQUESTS = Counter("portal_http_requests_total", "HTTP requests by view and status", ["view", "method", "status"])
LATENCY = Histogram("portal_http_request_duration_seconds", "HTTP request latency by view", ["view"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))  # fmt: skip


class MetricsMiddleware:
    """Counts requests and their latency by URL name (never by raw path: bounded labels)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        began = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match else "") or "unmatched"
        LATENCY.labels(view).observe(time.perf_counter() - began)
        REQUESTS.labels(view, request.method or "", str(response.status_code)).inc()
        return response


class PortalCollector:
    """Shared state, read at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from health.models import Outcome, Probe, ProbeResult
        from incidents.models import Alert, Delivery

        now = timezone.now()
        probes = GaugeMetricFamily("portal_probes", "Enabled probes by state", labels=["status"])
        counts = dict(Probe.objects.filter(enabled=True).values_list("status").annotate(n=Count("id")))
        for status in Outcome.values:
            probes.add_metric([status], counts.get(status, 0))
        yield probes
        runs = GaugeMetricFamily("portal_probe_runs_5m", "Probe runs in the last five minutes by outcome", labels=["outcome"])
        recent = ProbeResult.objects.filter(started_at__gte=now - timedelta(minutes=5))
        by_outcome = dict(recent.values_list("outcome").annotate(n=Count("id")))
        for outcome in Outcome.values:
            if outcome != Outcome.PENDING:
                runs.add_metric([outcome], by_outcome.get(outcome, 0))
        yield runs
        lags = sorted((s - d).total_seconds() for s, d in recent.order_by("-started_at").values_list("started_at", "scheduled_at")[:5000])
        lag = GaugeMetricFamily("portal_probe_lag_seconds", "Schedule lag of recent probe runs", labels=["quantile"])
        for q in (0.5, 0.99):
            lag.add_metric([str(q)], lags[min(len(lags) - 1, int(q * len(lags)))] if lags else 0.0)
        yield lag
        oldest = Probe.objects.filter(enabled=True).aggregate(m=Min("next_run_at"))["m"]
        yield GaugeMetricFamily("portal_probe_overdue_seconds", "How late the most overdue probe is",
                                value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)  # fmt: skip
        alerts = GaugeMetricFamily("portal_alerts", "Alerts by status", labels=["status"])
        for status, n in Alert.objects.values_list("status").annotate(n=Count("id")):
            alerts.add_metric([status], n)
        yield alerts
        deliveries = GaugeMetricFamily("portal_alert_deliveries", "Alert deliveries ingested, by processing status", labels=["status"])
        for status, n in Delivery.objects.values_list("status").annotate(n=Count("id")):
            deliveries.add_metric([status], n)
        yield deliveries
        depth = GaugeMetricFamily("portal_celery_queue_length", "Messages waiting per Celery queue", labels=["queue"])
        result = run_checks({"queues": queue_depths}, deadline=DEADLINE)["queues"]
        for name, value in (result.items() if result.get("ok") else []):
            if name not in ("ok", "ms"):
                depth.add_metric([name], value)
        yield depth


class SocketCollector:
    """Open websockets of this process by audience, counted by the incident core's
    consumers (per process, like the request metrics)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from incidents.sockets import open_sockets

        gauge = GaugeMetricFamily("portal_websocket_connections", "Open websocket connections by audience", labels=["audience"])
        for audience, count in open_sockets().items():
            gauge.add_metric([audience], count)
        yield gauge


def metrics_body() -> bytes:
    from prometheus_client import REGISTRY

    registry = CollectorRegistry()
    registry.register(SocketCollector())
    registry.register(PortalCollector())
    # The process's own request metrics, then the portal's shared state.
    return generate_latest(REGISTRY) + generate_latest(registry)


CONTENT_TYPE = CONTENT_TYPE_LATEST
_ = settings  # settings are read lazily by the checks above
