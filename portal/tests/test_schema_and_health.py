from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_generates_without_warnings_and_validates(tmp_path) -> None:
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/v1/incidents/{id}/status/:", "/api/v1/incidents/{id}/timeline/:", "/api/v1/tokens/:",
                 "/api/v1/postmortems/{id}/action-items/:"):  # fmt: skip
        assert path in text


def test_schema_and_docs_are_served_without_a_cdn(client: Client) -> None:
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/").content.decode()
    assert "cdn" not in docs.lower() and "/static/drf_spectacular_sidecar/" in docs


def test_health_endpoints(client: Client) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "redis": "ok", "broker": "ok", "status_snapshot": "ok"}


def test_every_task_is_routed_to_its_queue_and_every_scheduled_task_exists() -> None:
    from portal.celery import app

    app.autodiscover_tasks(force=True)  # what a worker does at start: every app's tasks module
    route = app.amqp.router.route
    assert route({}, "integrations.process_delivery")["queue"].name == "alerts"
    assert route({}, "integrations.sweep_pending_deliveries")["queue"].name == "alerts"
    assert route({}, "incidents.public.rebuild_snapshot")["queue"].name == "snapshots"
    assert route({}, "portal.tasks.ping")["queue"].name == "default"
    assert route({}, "runbooks.execute_step")["queue"].name == "runbooks"
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks
