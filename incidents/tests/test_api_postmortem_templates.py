"""Postmortem templates through the API (managers write, everyone reads), a
template chosen when a postmortem starts, and the impact figures a team reports."""

from __future__ import annotations

import pytest

from incidents.models import Postmortem, PostmortemTemplate
from incidents.services import incident_change_status
from portal.tests.factories import declare

pytestmark = pytest.mark.django_db

SRE_TEMPLATE = {
    "name": "SRE review",
    "description": "For customer-facing incidents.",
    "sections": [
        {"title": "Customer impact", "required": True, "prompt": "Who noticed, and how."},
        {"title": "Detection", "prompt": "How we found out; how long it took."},
        {"key": "why", "title": "Five whys", "required": True},
    ],
}


def test_a_manager_creates_edits_and_deletes_a_template_and_everyone_reads_them(api, cast) -> None:
    manager = api.as_(cast.owner)
    created = manager.post("/api/v1/postmortem-templates/", SRE_TEMPLATE, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["sections"] == [
        {"key": "customer-impact", "title": "Customer impact", "required": True, "prompt": "Who noticed, and how."},
        {"key": "detection", "title": "Detection", "required": False, "prompt": "How we found out; how long it took."},
        {"key": "why", "title": "Five whys", "required": True, "prompt": ""},
    ]
    assert body["is_default"] is False
    path = f"/api/v1/postmortem-templates/{body['id']}/"
    # Reordered, one section dropped, made the default: the seeded default gives way.
    edited = manager.patch(path, {"is_default": True, "sections": [body["sections"][2], body["sections"][0]]}, format="json")
    assert edited.status_code == 200, edited.json()
    assert [s["key"] for s in edited.json()["sections"]] == ["why", "customer-impact"]
    assert list(PostmortemTemplate.objects.filter(is_default=True).values_list("name", flat=True)) == ["SRE review"]
    for user in (cast.responder, cast.viewer):
        client = api.as_(user)
        listed = client.get("/api/v1/postmortem-templates/")
        assert listed.status_code == 200 and [t["name"] for t in listed.json()][:2] == ["SRE review", "Standard"]
        assert client.get(path).status_code == 200
        assert client.post("/api/v1/postmortem-templates/", SRE_TEMPLATE | {"name": "x"}, format="json").status_code == 403
        assert client.patch(path, {"name": "y"}, format="json").status_code == 403
        assert client.delete(path).status_code == 403
    assert manager.put(path, SRE_TEMPLATE, format="json").status_code == 405
    assert manager.delete(path).status_code == 204
    assert not PostmortemTemplate.objects.filter(name="SRE review").exists()


def test_bad_templates_are_refused_in_the_one_error_shape(api, cast) -> None:
    manager = api.as_(cast.owner)
    cases = [
        ({"name": "a", "sections": []}, "sections"),
        ({"name": "a", "sections": [{"title": ""}]}, "sections.0.title"),
        ({"name": "a", "sections": [{"title": "Impact"}, {"title": "impact"}]}, "sections.1.key"),
        ({"name": "a", "sections": [{"title": "x", "key": "not a slug"}]}, "sections.0.key"),
        ({"sections": [{"title": "x"}]}, "name"),
    ]
    for body, field in cases:
        response = manager.post("/api/v1/postmortem-templates/", body, format="json")
        assert response.status_code == 400, (body, response.json())
        error = response.json()["error"]
        assert error["code"] == "validation_failed" and field in error["fields"], (body, error)
    duplicate = manager.post("/api/v1/postmortem-templates/", {"name": "Standard", "sections": [{"title": "x"}]}, format="json")
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "conflict"
    assert PostmortemTemplate.objects.count() == 1


def test_a_postmortem_starts_from_the_chosen_template_and_keeps_its_sections(api, cast) -> None:
    template = api.as_(cast.owner).post("/api/v1/postmortem-templates/", SRE_TEMPLATE, format="json").json()
    incident = declare(by=cast.responder, title="Checkout down")
    client = api.as_(cast.responder)
    unknown = client.post("/api/v1/postmortems/", {"incident": incident.reference, "template": 99999}, format="json")
    assert unknown.status_code == 400 and "template" in unknown.json()["error"]["fields"]
    started = client.post("/api/v1/postmortems/", {"incident": incident.reference, "template": template["id"]}, format="json")
    assert started.status_code == 201, started.json()
    postmortem = started.json()
    assert postmortem["template"] == {"id": template["id"], "name": "SRE review"}
    assert [(s["key"], s["required"], s["position"]) for s in postmortem["sections"]] == [
        ("customer-impact", True, 0), ("detection", False, 1), ("why", True, 2)]  # fmt: skip
    # Editing the template later leaves the started postmortem as it was.
    api.as_(cast.owner).patch(f"/api/v1/postmortem-templates/{template['id']}/", {"sections": [{"title": "Other"}]}, format="json")
    again = client.get(f"/api/v1/postmortems/{postmortem['id']}/").json()
    assert [s["key"] for s in again["sections"]] == ["customer-impact", "detection", "why"]


def test_impact_figures_are_stored_edited_cleared_and_validated(api, cast) -> None:
    incident = declare(by=cast.responder)
    client = api.as_(cast.responder)
    postmortem = client.post("/api/v1/postmortems/", {"incident": incident.reference}, format="json").json()
    assert postmortem["template"]["name"] == "Standard"
    path = f"/api/v1/postmortems/{postmortem['id']}/"
    set_ = client.patch(path, {"users_affected_percent": "12.5", "impact_duration_minutes": 95, "revenue_impact": "1200.00",
                               "users_affected": 3400}, format="json")  # fmt: skip
    assert set_.status_code == 200, set_.json()
    body = set_.json()
    assert (body["users_affected"], body["users_affected_percent"], body["impact_duration_minutes"], body["revenue_impact"]) == (
        3400, "12.50", 95, "1200.00")  # fmt: skip
    # A figure left out is kept; null clears one.
    cleared = client.patch(path, {"users_affected": None}, format="json").json()
    assert cleared["users_affected"] is None and cleared["users_affected_percent"] == "12.50"
    row = Postmortem.objects.get(pk=postmortem["id"])
    assert row.impact_duration is not None and row.impact_duration.total_seconds() == 95 * 60
    for bad in ({"users_affected_percent": "100.5"}, {"impact_duration_minutes": -1}, {"revenue_impact": "-3"}):
        response = client.patch(path, bad, format="json")
        assert response.status_code == 400 and set(bad) <= set(response.json()["error"]["fields"]), response.json()
    assert api.as_(cast.viewer).patch(path, {"users_affected": 1}, format="json").status_code == 403
    incident_change_status(incident=incident, status="resolved", by=cast.responder)
    assert client.get(path).json()["duration_seconds"] is not None
