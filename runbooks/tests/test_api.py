"""The runbooks REST API: roles, the one error shape, import with preview, runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portal.tests.factories import declare
from runbooks import executor
from runbooks.models import Runbook, StepRun
from runbooks.tests.support import approver, cluster, latency_runbook

FIXTURES = Path(__file__).parent / "fixtures"
SCALE = {"kind": "deployment", "name": "api-gateway", "namespace": "production", "replicas": 5}


def _body(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Gateway latency", "description": "When **p99** is high.", "services": ["api"], "tags": ["latency"],
        "alert_names": ["HighAPILatency"],
        "steps": [
            {"title": "Look at Grafana"},
            {"title": "Scale up", "kind": "automated", "action": "k8s.scale", "parameters": SCALE, "requires_approval": True},
        ],
    }  # fmt: skip
    body.update(overrides)
    return body


def test_managers_edit_runbooks_responders_and_viewers_do_not(api: Any, cast: Any) -> None:
    for user in (cast.viewer, cast.responder):
        reply = api.as_(user).post("/api/v1/runbooks/", _body(), format="json")
        assert reply.status_code == 403 and reply.json()["error"]["code"] == "permission_denied"
    reply = api.as_(cast.owner).post("/api/v1/runbooks/", _body(), format="json")
    assert reply.status_code == 201, reply.json()
    data = reply.json()
    assert data["services"] == ["api"] and data["description_html"] == "<p>When <strong>p99</strong> is high.</p>"
    assert [s["kind"] for s in data["steps"]] == ["manual", "automated"]
    listed = api.as_(cast.viewer).get("/api/v1/runbooks/?service=api").json()
    assert [r["title"] for r in listed["results"]] == ["Gateway latency"]
    assert api.as_(cast.viewer).get("/api/v1/runbooks/?q=nothing-like-it").json()["results"] == []


def test_invalid_parameters_are_a_400_naming_the_field_and_nothing_is_saved(api: Any, cast: Any) -> None:
    bad = _body(steps=[{"title": "x", "kind": "automated", "action": "k8s.scale", "parameters": {**SCALE, "replicas": "five"}}])
    reply = api.as_(cast.owner).post("/api/v1/runbooks/", bad, format="json")
    assert reply.status_code == 400
    assert "steps.0.parameters.replicas" in reply.json()["error"]["fields"]
    unknown = _body(steps=[{"title": "x", "kind": "automated", "action": "shell", "parameters": {"cmd": "rm -rf /"}}])
    assert api.as_(cast.owner).post("/api/v1/runbooks/", unknown, format="json").json()["error"]["fields"] == {
        "steps.0.action": ["'shell' is not an action."]
    }
    assert not Runbook.objects.exists()


def test_import_previews_then_saves(api: Any, cast: Any) -> None:
    markdown = (FIXTURES / "api_gateway.md").read_text()
    preview = api.as_(cast.owner).post("/api/v1/runbooks/import/preview/", {"markdown": markdown}, format="json")
    assert preview.status_code == 200
    runbooks = preview.json()["runbooks"]
    assert [(r["title"], r["automated"], r["manual"]) for r in runbooks] == [
        ("Issue: High API Latency", 4, 2), ("Issue: Bad Deploy", 2, 2), ("Issue: Gateway Pods Crash Looping", 2, 2),
    ]  # fmt: skip
    assert runbooks[0]["unknown_services"] == ["api-gateway"]
    assert not Runbook.objects.exists()
    saved = api.as_(cast.owner).post("/api/v1/runbooks/import/", {"markdown": markdown}, format="json")
    assert saved.status_code == 201 and len(saved.json()) == 3
    assert Runbook.objects.get(title="Issue: High API Latency").alert_names == ["HighAPILatency", "APIGatewayP99Slow"]
    assert api.as_(cast.responder).post("/api/v1/runbooks/import/", {"markdown": markdown}, format="json").status_code == 403
    empty = api.as_(cast.owner).post("/api/v1/runbooks/import/", {"markdown": "just prose"}, format="json")
    assert empty.status_code == 400 and "markdown" in empty.json()["error"]["fields"]


def test_a_run_through_the_api(api: Any, cast: Any, k8s: Any) -> None:
    runbook = latency_runbook(cast.owner)
    incident = declare(by=cast.responder)
    cluster()
    assert api.as_(cast.viewer).post(f"/api/v1/runbooks/{runbook.pk}/runs/", {}, format="json").status_code == 403
    started = api.as_(cast.responder).post(f"/api/v1/runbooks/{runbook.pk}/runs/",
                                           {"incident": f"INC-{incident.pk}", "cluster": "stub"}, format="json")  # fmt: skip
    assert started.status_code == 201, started.json()
    run = started.json()
    assert run["incident"] == f"INC-{incident.pk}" and [s["state"] for s in run["steps"]] == ["pending"] * 3
    first, scale, _ = (s["id"] for s in run["steps"])
    done = api.as_(cast.responder).post(f"/api/v1/runbook-steps/{first}/complete/", {"outcome": "succeeded"}, format="json")
    assert done.json()["state"] == "succeeded"
    refused = api.as_(cast.responder).post(f"/api/v1/runbook-steps/{scale}/approve/")
    assert refused.status_code == 403 and "other than" in refused.json()["error"]["message"]
    assert api.as_(cast.viewer).post(f"/api/v1/runbook-steps/{scale}/approve/").status_code == 403
    approved = api.as_(approver()).post(f"/api/v1/runbook-steps/{scale}/approve/")
    assert approved.json()["state"] == "approved"
    executor.step_execute(scale)
    result = api.as_(cast.viewer).get(f"/api/v1/runbook-steps/{scale}/").json()
    assert result["state"] == "succeeded" and result["after"]["replicas"] == 5 and result["idempotency_key"]
    again = api.as_(approver()).post(f"/api/v1/runbook-steps/{scale}/approve/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    listed = api.as_(cast.viewer).get(f"/api/v1/runbook-runs/?incident=INC-{incident.pk}").json()
    assert [r["id"] for r in listed["results"]] == [run["id"]]
    cancelled = api.as_(cast.responder).post(f"/api/v1/runbook-runs/{run['id']}/cancel/", {"reason": "done by hand"}, format="json")
    assert cancelled.json()["state"] == "cancelled"
    assert StepRun.objects.get(pk=scale).state == "succeeded"


def test_bad_references_are_clear_errors(api: Any, cast: Any) -> None:
    runbook = latency_runbook(cast.owner)
    reply = api.as_(cast.responder).post(f"/api/v1/runbooks/{runbook.pk}/runs/", {"incident": "INC-999999", "cluster": "nope"}, format="json")
    assert reply.status_code == 400 and set(reply.json()["error"]["fields"]) == {"incident", "cluster"}
    assert api.as_(cast.viewer).get("/api/v1/runbook-runs/12345/").status_code == 404
    assert api.as_(cast.responder).post("/api/v1/runbook-steps/1/complete/", {"outcome": "maybe"}, format="json").status_code in (400, 404)
    assert api.as_(None).get("/api/v1/runbooks/").status_code in (401, 403)


def test_the_actions_and_their_schemas_are_listed(api: Any, cast: Any) -> None:
    names = [a["name"] for a in api.as_(cast.viewer).get("/api/v1/runbook-actions/").json()]
    assert "k8s.scale" in names and "k8s.rollout_undo" in names


def test_the_schema_describes_the_runbook_endpoints(api: Any, cast: Any) -> None:
    schema = api.as_(cast.viewer).get("/api/schema/?format=json").json()
    for path in ("/api/v1/runbooks/", "/api/v1/runbooks/{id}/runs/", "/api/v1/runbooks/import/preview/",
                 "/api/v1/runbook-steps/{id}/approve/", "/api/v1/runbook-runs/{id}/cancel/"):  # fmt: skip
        assert path in schema["paths"]


def test_managers_configure_endpoints_whose_headers_are_never_shown(api: Any, cast: Any) -> None:
    body = {"name": "ops", "url": "https://ops.example.com/api", "headers": {"Authorization": "Bearer s3cret"}}
    assert api.as_(cast.responder).post("/api/v1/runbook-endpoints/", body, format="json").status_code == 403
    reply = api.as_(cast.owner).post("/api/v1/runbook-endpoints/", body, format="json")
    assert reply.status_code == 201, reply.json()
    assert reply.json()["header_names"] == ["Authorization"] and "s3cret" not in reply.content.decode()
    assert "s3cret" not in api.as_(cast.viewer).get("/api/v1/runbook-endpoints/ops/").content.decode()
    refused = api.as_(cast.owner).post("/api/v1/runbook-endpoints/", {"name": "meta", "url": "http://169.254.169.254/"}, format="json")
    assert refused.status_code == 400 and "url" in refused.json()["error"]["fields"]


def test_checklists_attach_by_severity_name_and_only_manual_runbooks(api: Any, cast: Any) -> None:
    manual = api.as_(cast.owner).post("/api/v1/runbooks/", _body(title="First response", steps=[
        {"title": "Acknowledge", "due_minutes": 15}, {"title": "Postmortem", "due_minutes": 2880, "due_from": "resolution"},
    ]), format="json").json()  # fmt: skip
    assert [s["due_minutes"] for s in manual["steps"]] == [15, 2880] and manual["steps"][1]["due_from"] == "resolution"
    body = {"runbook": manual["id"], "severity": "SEV1"}
    assert api.as_(cast.responder).post("/api/v1/runbook-checklists/", body, format="json").status_code == 403
    reply = api.as_(cast.owner).post("/api/v1/runbook-checklists/", body, format="json")
    assert reply.status_code == 201 and reply.json()["service"] is None
    automated = api.as_(cast.owner).post("/api/v1/runbooks/", _body(), format="json").json()
    refused = api.as_(cast.owner).post("/api/v1/runbook-checklists/", {"runbook": automated["id"], "severity": "SEV1"}, format="json")
    assert refused.status_code == 400 and "runbook" in refused.json()["error"]["fields"]
    assert api.as_(cast.owner).delete(f"/api/v1/runbook-checklists/{reply.json()['id']}/").status_code == 204
    assert api.as_(cast.viewer).get("/api/v1/runbook-checklists/").json() == []
