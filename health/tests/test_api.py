"""REST API and pages for probes: managers configure, credentials never come back,
one error shape, run now shows each condition's evaluation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from health import services, tasks
from health.models import Probe
from health.tests.servers import HealthServer

pytestmark = pytest.mark.django_db

SECRET = "pg-S3cret-value"


def body(server: HealthServer, **extra: Any) -> dict[str, Any]:
    return {"service": "api", "name": "API ready", "kind": "http", "target": {"url": f"{server.url}/health"},
            "conditions": ["[STATUS] == 200", 'degraded: [BODY].status == "healthy"'], "interval_seconds": 30,
            "timeout_seconds": 2, **extra}  # fmt: skip


def test_only_managers_configure_probes(api: Any, cast: Any, server: HealthServer) -> None:
    for user in (cast.viewer, cast.responder):
        response = api.as_(user).post("/api/v1/probes/", body(server), format="json")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    assert api.as_(None).get("/api/v1/probes/").status_code in (401, 403)
    response = api.as_(cast.owner).post("/api/v1/probes/", body(server), format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["service"] == "api" and created["locations"] == ["local"] and created["status"] == "pending"
    assert api.as_(cast.viewer).get("/api/v1/probes/").json()["count"] == 1
    assert api.as_(cast.viewer).post(f"/api/v1/probes/{created['id']}/run/").status_code == 403


def test_errors_name_the_field_and_the_column(api: Any, cast: Any, server: HealthServer) -> None:
    response = api.as_(cast.owner).post("/api/v1/probes/", body(server, conditions=["[STATUS] == 200", "[BODY].status = ok"]), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["fields"] == {"conditions.1": ["'[BODY].status = ok': column 15: Expected an operator: == != <= >= < > contains."]}
    response = api.as_(cast.owner).post("/api/v1/probes/", {**body(server), "interval_seconds": "often"}, format="json")
    assert response.status_code == 400 and "interval_seconds" in response.json()["error"]["fields"]
    assert Probe.objects.count() == 0


def test_credentials_are_never_returned(api: Any, cast: Any) -> None:
    client = api.as_(cast.owner)
    payload = {"service": "api", "name": "Orders DB", "kind": "postgres", "target": {"host": "127.0.0.1", "port": 5432},
               "credentials": {"password": SECRET}}  # fmt: skip
    created = client.post("/api/v1/probes/", payload, format="json")
    assert created.status_code == 201
    assert SECRET not in created.content.decode()
    assert created.json()["credentials_set"] == ["password"]
    pk = created.json()["id"]
    for url in (f"/api/v1/probes/{pk}/", "/api/v1/probes/"):
        assert SECRET not in client.get(url).content.decode()
    changed = client.patch(f"/api/v1/probes/{pk}/", {"name": "Orders database"}, format="json")
    assert changed.status_code == 200 and SECRET not in changed.content.decode()
    assert Probe.objects.get(pk=pk).credentials == {"password": SECRET}
    page = Client()
    page.force_login(cast.owner)
    assert SECRET not in page.get(f"/health/probes/{pk}/").content.decode()


def test_run_now_shows_each_condition(api: Any, cast: Any, server: HealthServer) -> None:
    client = api.as_(cast.owner)
    pk = client.post("/api/v1/probes/", body(server), format="json").json()["id"]
    server.mode = "degraded"
    response = client.post(f"/api/v1/probes/{pk}/run/")
    assert response.status_code == 200
    run = response.json()
    assert run["outcome"] == "degraded"
    assert [(e["condition"], e["ok"], e["actual"]) for e in run["evaluations"]] == [
        ("[STATUS] == 200", True, 200), ('degraded: [BODY].status == "healthy"', False, "degraded"),
    ]  # fmt: skip
    assert not Probe.objects.get(pk=pk).results.exists()  # shown, not recorded


def test_results_are_listed_newest_first(api: Any, cast: Any, server: HealthServer) -> None:
    probe = services.probe_create(by=None, **{**body(server), "service": cast.service})
    location = services.default_location()
    first = timezone.now()
    tasks.run_locally(location, [(probe.pk, first)])
    server.mode = "error"
    tasks.run_locally(location, [(probe.pk, first + timedelta(seconds=30))])
    response = api.as_(cast.viewer).get(f"/api/v1/probes/{probe.pk}/results/?location=local")
    assert response.status_code == 200
    outcomes = [row["outcome"] for row in response.json()["results"]]
    assert outcomes == ["down", "up"]
    assert response.json()["results"][0]["evaluations"][0]["actual"] == 500


def test_the_schema_describes_the_probe_endpoints(api: Any, cast: Any) -> None:
    schema = api.as_(cast.viewer).get("/api/schema/?format=json").json()
    assert {"/api/v1/probes/", "/api/v1/probes/{id}/", "/api/v1/probes/{id}/run/", "/api/v1/probes/{id}/results/"} <= set(schema["paths"])
    assert "credentials" not in schema["components"]["schemas"]["Probe"]["properties"]
    assert "credentials" in schema["components"]["schemas"]["ProbeInputRequest"]["properties"]


def test_heartbeat_push_url(api: Any, cast: Any) -> None:
    created = api.as_(cast.owner).post("/api/v1/probes/", {"service": "api", "name": "Nightly backup", "kind": "heartbeat",
                                                           "interval_seconds": 86400, "timeout_seconds": 1}, format="json")  # fmt: skip
    url = created.json()["heartbeat_url"]
    assert url and "/health/heartbeat/" in url
    assert api.as_(cast.owner).get(f"/api/v1/probes/{created.json()['id']}/").json()["heartbeat_url"] is None
    path = url.split("://", 1)[1].split("/", 1)[1]
    client = Client()
    assert client.get(f"/{path}").json()["ok"] is True
    assert client.post(f"/{path}/fail", data="disk full", content_type="text/plain").status_code == 200
    heartbeat = Probe.objects.get(pk=created.json()["id"]).heartbeat
    assert (heartbeat.pings, heartbeat.last_ping_ok, heartbeat.last_message) == (2, False, "disk full")
    assert client.get("/health/heartbeat/not-a-token").status_code == 404


def test_probe_pages(cast: Any, server: HealthServer) -> None:
    probe = services.probe_create(by=None, **{**body(server), "service": cast.service})
    page = Client()
    page.force_login(cast.viewer)
    listing = page.get("/health/probes/?q=ready")
    assert listing.status_code == 200 and "API ready" in listing.content.decode()
    assert "API ready" not in page.get("/health/probes/?q=nothing-like-it").content.decode()
    assert page.get(f"/health/probes/{probe.pk}/").status_code == 200
    assert page.post(f"/health/probes/{probe.pk}/run/").status_code == 403
    assert page.get("/health/probes/new/").status_code == 403
    fragment = page.get(f"/health/services/{cast.service.slug}/probes/")
    assert f'data-probe-id="{probe.pk}"' in fragment.content.decode()
    page.force_login(cast.owner)
    run = page.post(f"/health/probes/{probe.pk}/run/", HTTP_HX_REQUEST="true")
    assert 'data-outcome="up"' in run.content.decode()
    bad = page.post(f"/health/probes/{probe.pk}/", {**{k: v for k, v in _form(probe).items()}, "conditions": "[STATUS] = 200"})
    assert bad.status_code == 400 and "column 10" in bad.content.decode()
    good = page.post(f"/health/probes/{probe.pk}/", {**_form(probe), "name": "API readiness"})
    assert good.status_code == 302
    assert Probe.objects.get(pk=probe.pk).name == "API readiness"


def _form(probe: Probe) -> dict[str, Any]:
    import json

    return {"service": probe.service.slug, "name": probe.name, "kind": probe.kind, "target": json.dumps(probe.target),
            "conditions": "\n".join(probe.conditions), "interval_seconds": probe.interval_seconds,
            "timeout_seconds": probe.timeout_seconds, "failure_threshold": probe.failure_threshold,
            "success_threshold": probe.success_threshold, "locations": "local", "quorum": 1, "policy": probe.policy,
            "severity": "", "on_recovery": probe.on_recovery, "enabled": "on"}  # fmt: skip
