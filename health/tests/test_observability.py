"""/health/detailed and /metrics."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from health import observability, services, tasks
from health.tests.servers import HealthServer

pytestmark = pytest.mark.django_db


def test_detailed_names_each_dependency_with_its_time() -> None:
    response = Client().get("/health/detailed")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "broker"}
    assert all(check["ok"] and check["ms"] >= 0 for check in body["checks"].values())
    assert "probes.local" in body["checks"]["broker"]["queues"] or body["checks"]["broker"]["queues"].keys() >= {"default", "alerts"}
    assert "snapshot" in body


def test_a_hanging_dependency_is_reported_within_the_deadline() -> None:
    began = time.monotonic()
    checks = observability.run_checks({"fast": lambda: None, "hangs": lambda: time.sleep(5), "fails": lambda: 1 / 0})
    assert time.monotonic() - began < 1.5
    assert checks["fast"]["ok"] is True
    assert checks["hangs"] == {"ok": False, "error": "no answer within 0.8 s"}
    assert checks["fails"]["ok"] is False and checks["fails"]["error"] == "ZeroDivisionError"


def test_metrics_in_prometheus_exposition(cast: Any, server: HealthServer) -> None:
    probe = services.probe_create(by=None, service=cast.service, name="API", kind="http", target={"url": f"{server.url}/health"},
                                  success_threshold=1)  # fmt: skip
    tasks.run_locally(services.default_location(), [(probe.pk, timezone.now())])
    client = Client()
    client.get("/health/live")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(response.content.decode())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("portal_probes", (("status", "up"),))] == 1
    assert samples[("portal_probe_runs_5m", (("outcome", "up"),))] == 1
    assert ("portal_probe_lag_seconds", (("quantile", "0.99"),)) in samples
    assert ("portal_celery_queue_length", (("queue", "alerts"),)) in samples
    assert any(name == "portal_http_requests_total" and dict(labels).get("view") == "health:live" for name, labels in samples)


def test_the_shipped_rules_and_dashboard_use_metrics_that_exist(cast: Any) -> None:
    import json
    import re
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2] / "deploy"
    rules = yaml.safe_load((root / "prometheus" / "portal-rules.yml").read_text())
    dashboard = json.loads((root / "grafana" / "portal-dashboard.json").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\b(portal_[a-z_0-9]+)", expr)}
    Client().get("/health/live")
    exposed = Client().get("/metrics").content.decode()
    recorded = {rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule}
    assert used and {name for name in used if not re.search(rf"^(# TYPE )?{name}", exposed, re.M)} == set()
    assert {name for expr in exprs for name in re.findall(r"\b(portal:[a-z_0-9:]+)", expr)} <= recorded


def test_ready_answers_within_a_second_when_redis_hangs(settings: Any) -> None:
    """A Redis that accepts connections and never answers (the case that used to take 10 s)."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # connections complete in the kernel; nothing ever reads or answers
    try:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                       "LOCATION": f"redis://127.0.0.1:{listener.getsockname()[1]}/0"}}  # fmt: skip
        began = time.monotonic()
        response = Client().get("/health/ready")
        elapsed = time.monotonic() - began
    finally:
        listener.close()
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["redis"] == "error: no answer within 0.8 s"
    assert body["checks"]["database"] == "ok" and body["status"] == "unavailable"
    assert elapsed < 1.5
