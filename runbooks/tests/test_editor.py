"""The runbook editor: managers only; steps added, removed and reordered from the
rows; parameters typed per action schema; checklist severities."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from runbooks.models import Checklist, Runbook
from runbooks.services import StepInput, runbook_save
from runbooks.tests.support import latency_runbook


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _form(page: str) -> dict[str, Any]:
    """The editor's fields as the page renders them (inputs, checked boxes, selected options, textareas)."""
    data: dict[str, Any] = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or "__prefix__" in name.group(1):
            continue
        kind = (re.search(r'type="([^"]+)"', tag) or [None, "text"])[1]
        value = re.search(r'value="([^"]*)"', tag)
        if kind == "checkbox":
            if "checked" in tag:
                data.setdefault(name.group(1), []).append(value.group(1) if value else "on")
        elif kind != "submit":
            data[name.group(1)] = value.group(1) if value else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        if "__prefix__" not in name:
            data[name] = body.strip("\n").replace("&quot;", '"').replace("&#x27;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        if "__prefix__" not in name:
            chosen = re.findall(r'<option value="([^"]*)"[^>]*selected', body)
            data[name] = chosen if "multiple" in page.split(f'name="{name}"')[1][:40] or len(chosen) > 1 else (chosen[0] if chosen else "")
    return data


def test_only_managers_open_the_editor(cast: Any) -> None:
    runbook = latency_runbook(cast.owner)
    for user in (cast.responder, cast.viewer):
        assert _client(user).get(f"/runbooks/{runbook.pk}/edit/").status_code == 403
        assert _client(user).post("/runbooks/new/", {"title": "x"}).status_code == 403
    page = _client(cast.owner).get(f"/runbooks/{runbook.pk}/").content.decode()
    assert f'href="/runbooks/{runbook.pk}/edit/"' in page
    assert "/edit/" not in _client(cast.responder).get(f"/runbooks/{runbook.pk}/").content.decode()


def test_a_new_runbook_from_the_rows_with_typed_parameters(cast: Any) -> None:
    owner = _client(cast.owner)
    data = _form(owner.get("/runbooks/new/").content.decode())
    assert data["steps-TOTAL_FORMS"] == "1"  # one blank row without JavaScript
    data.update({
        "title": "Restart the gateway", "description": "When *p99* is high", "services": [str(cast.service.pk)],
        "tags": "latency, gateway", "alert_names": "HighAPILatency", "steps-TOTAL_FORMS": "3",
        "steps-0-title": "Scale", "steps-0-kind": "automated", "steps-0-action": "k8s.scale", "steps-0-ORDER": "2",
        "steps-0-p_k8s_scale_kind": "deployment", "steps-0-p_k8s_scale_name": "api-gateway", "steps-0-p_k8s_scale_replicas": "5",
        "steps-0-p_k8s_scale_namespace": "production", "steps-0-requires_approval": "on", "steps-0-timeout_seconds": "60",
        "steps-0-due_from": "start",
        "steps-1-title": "Look at the dashboard", "steps-1-kind": "manual", "steps-1-ORDER": "1", "steps-1-command": "open grafana",
        "steps-1-timeout_seconds": "300", "steps-1-due_from": "start",
        "steps-2-title": "Set the cache TTL", "steps-2-kind": "automated", "steps-2-action": "k8s.set_env", "steps-2-ORDER": "3",
        "steps-2-p_k8s_set_env_name": "api-gateway", "steps-2-p_k8s_set_env_env": "CACHE_TTL=600\nMODE=safe",
        "steps-2-timeout_seconds": "300", "steps-2-due_from": "start",
    })  # fmt: skip
    response = owner.post("/runbooks/new/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    runbook = Runbook.objects.get(title="Restart the gateway")
    steps = list(runbook.steps.order_by("order"))
    assert [s.title for s in steps] == ["Look at the dashboard", "Scale", "Set the cache TTL"]
    assert steps[0].command == "open grafana" and steps[0].action == ""
    assert steps[1].parameters == {"kind": "deployment", "name": "api-gateway", "namespace": "production", "replicas": 5}
    assert steps[1].requires_approval and steps[1].timeout_seconds == 60
    assert steps[2].parameters == {"name": "api-gateway", "env": {"CACHE_TTL": "600", "MODE": "safe"}}
    assert runbook.tags == ["latency", "gateway"] and runbook.alert_names == ["HighAPILatency"]
    assert list(runbook.services.all()) == [cast.service] and "<em>p99</em>" in runbook.description_html


def test_editing_keeps_what_is_shown_reorders_removes_and_reports_schema_errors(cast: Any) -> None:
    runbook = latency_runbook(cast.owner)
    owner = _client(cast.owner)
    data = _form(owner.get(f"/runbooks/{runbook.pk}/edit/").content.decode())
    assert data["steps-1-p_k8s_scale_replicas"] == "5" and data["steps-TOTAL_FORMS"] == "4"
    # saved unchanged: the same steps and parameters
    assert owner.post(f"/runbooks/{runbook.pk}/edit/", data).status_code == 302
    assert [(s.title, s.parameters) for s in runbook.steps.order_by("order")] == [
        ("Check the latency dashboard", {}),
        ("Scale up the gateway", {"kind": "deployment", "name": "api-gateway", "namespace": "production", "replicas": 5}),
        ("Wait for the rollout", {"name": "api-gateway", "namespace": "production"}),
    ]
    # remove the first, put the wait before the scale
    data.update({"steps-0-DELETE": "on", "steps-1-ORDER": "3", "steps-2-ORDER": "2"})
    assert owner.post(f"/runbooks/{runbook.pk}/edit/", data).status_code == 302
    assert [s.title for s in runbook.steps.order_by("order")] == ["Wait for the rollout", "Scale up the gateway"]
    # a parameter the schema refuses: the page says so and nothing changes
    data = _form(owner.get(f"/runbooks/{runbook.pk}/edit/").content.decode())
    data["steps-1-p_k8s_scale_name"] = "Not A Name!"
    page = owner.post(f"/runbooks/{runbook.pk}/edit/", data)
    assert page.status_code == 200 and "steps.1.parameters.name" in page.content.decode()
    assert runbook.steps.get(order=2).parameters["name"] == "api-gateway"


def test_the_editor_attaches_a_checklist_to_severities(cast: Any) -> None:
    from portal.tests.factories import severity

    runbook = runbook_save(title="First response", by=cast.owner, steps=[StepInput(title="Acknowledge", due_minutes=15)])
    owner = _client(cast.owner)
    data = _form(owner.get(f"/runbooks/{runbook.pk}/edit/").content.decode())
    assert data["steps-0-due_minutes"] == "15"
    data["checklist_for"] = [str(severity("SEV1").pk)]
    assert owner.post(f"/runbooks/{runbook.pk}/edit/", data).status_code == 302
    assert [c.severity.name for c in Checklist.objects.filter(runbook=runbook)] == ["SEV1"]
    data["checklist_for"] = []
    assert owner.post(f"/runbooks/{runbook.pk}/edit/", data).status_code == 302
    assert not Checklist.objects.filter(runbook=runbook).exists()
