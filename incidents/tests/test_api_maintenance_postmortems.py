from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import PostmortemTemplate
from incidents.services import incident_add_note, incident_change_status
from portal.tests.factories import declare

pytestmark = pytest.mark.django_db


def test_a_maintenance_window_is_scheduled_edited_and_moved_through_its_statuses(api, cast) -> None:
    client = api.as_(cast.responder)
    start = timezone.now() + timedelta(days=1)
    created = client.post(
        "/api/v1/maintenance-windows/",
        {"title": "DB upgrade", "services": ["api"], "scheduled_start": start.isoformat(),
         "scheduled_end": (start + timedelta(hours=2)).isoformat()},  # fmt: skip
        format="json",
    )
    assert created.status_code == 201, created.json()
    window = created.json()
    assert window["status"] == "scheduled" and window["services"] == ["api"]
    path = f"/api/v1/maintenance-windows/{window['id']}/"
    edited = client.patch(path, {"title": "PostgreSQL 17 upgrade"}, format="json")
    assert edited.json()["title"] == "PostgreSQL 17 upgrade"
    assert client.post(path + "status/", {"status": "verifying"}, format="json").status_code == 409
    assert client.post(path + "status/", {"status": "in_progress"}, format="json").json()["started_at"] is not None
    statuses = {s["slug"]: s["status"] for s in client.get("/api/v1/services/").json()["results"]}
    assert statuses["api"] == "under_maintenance"
    assert client.post(path + "status/", {"status": "verifying"}, format="json").status_code == 200
    done = client.post(path + "status/", {"status": "completed"}, format="json").json()
    assert done["status"] == "completed" and done["completed_at"] is not None
    refused = client.post(path + "status/", {"status": "in_progress"}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["allowed"] == []
    assert [w["id"] for w in client.get("/api/v1/maintenance-windows/?upcoming=false").json()["results"]] == [window["id"]]


def test_a_window_must_end_after_it_starts_and_name_services(api, cast) -> None:
    client = api.as_(cast.responder)
    start = timezone.now()
    backwards = client.post(
        "/api/v1/maintenance-windows/",
        {"title": "x", "services": ["api"], "scheduled_start": start.isoformat(), "scheduled_end": start.isoformat()},
        format="json",
    )
    assert backwards.status_code == 400 and "scheduled_end" in backwards.json()["error"]["fields"]
    empty = client.post(
        "/api/v1/maintenance-windows/",
        {"title": "x", "services": [], "scheduled_start": start.isoformat(), "scheduled_end": (start + timedelta(hours=1)).isoformat()},
        format="json",
    )
    assert empty.status_code == 400 and "services" in empty.json()["error"]["fields"]


def test_a_postmortem_from_the_template_with_prefilled_timeline_and_a_publish_gate(api, cast) -> None:
    incident = declare(by=cast.responder, title="Checkout down")
    incident_add_note(incident=incident, body="Just a note, not in the prefill", by=cast.responder)
    incident_change_status(incident=incident, status="identified", by=cast.responder, note="Bad config push")
    client = api.as_(cast.responder)
    started = client.post("/api/v1/postmortems/", {"incident": incident.reference}, format="json")
    assert started.status_code == 201, started.json()
    postmortem = started.json()
    sections = {s["key"]: s for s in postmortem["sections"]}
    template = PostmortemTemplate.objects.get(is_default=True)
    assert list(sections) == [s["key"] for s in template.sections]
    assert "Status investigating → identified: Bad config push" in sections["timeline"]["body"]
    assert "Just a note" not in sections["timeline"]["body"]
    assert client.post("/api/v1/postmortems/", {"incident": incident.reference}, format="json").status_code == 409

    path = f"/api/v1/postmortems/{postmortem['id']}/"
    still_open = client.post(path + "status/", {"status": "published"}, format="json")
    assert still_open.status_code == 409 and "Resolve the incident" in still_open.json()["error"]["message"]
    incident_change_status(incident=incident, status="resolved", by=cast.responder)
    gated = client.post(path + "status/", {"status": "published"}, format="json")
    assert gated.status_code == 409
    assert set(gated.json()["error"]["empty_sections"]) == {"summary", "impact", "root-cause"}

    filled = client.patch(path, {"sections": {"summary": "It broke.", "impact": "All checkouts for 20 min.", "root-cause": "Config."},
                                 "users_affected": 5000}, format="json")  # fmt: skip
    assert filled.status_code == 200 and filled.json()["users_affected"] == 5000
    assert client.patch(path, {"sections": {"nope": "x"}}, format="json").status_code == 400
    assert client.post(path + "status/", {"status": "in_review"}, format="json").json()["status"] == "in_review"
    published = client.post(path + "status/", {"status": "published"}, format="json").json()
    assert published["status"] == "published" and published["published_at"] is not None
    assert published["duration_seconds"] is not None


def test_action_items_are_added_and_edited(api, cast) -> None:
    incident = declare(by=cast.responder)
    client = api.as_(cast.responder)
    postmortem = client.post("/api/v1/postmortems/", {"incident": incident.reference}, format="json").json()
    item = client.post(f"/api/v1/postmortems/{postmortem['id']}/action-items/",
                       {"title": "Add canary", "owner": "responder", "priority": "high", "due_date": "2027-01-15",
                        "external_url": "https://tracker.example.com/OPS-1"}, format="json")  # fmt: skip
    assert item.status_code == 201, item.json()
    assert item.json()["owner"]["username"] == "responder"
    done = client.patch(f"/api/v1/action-items/{item.json()['id']}/", {"status": "done"}, format="json")
    assert done.json()["status"] == "done"
    bad = client.patch(f"/api/v1/action-items/{item.json()['id']}/", {"priority": "urgent", "external_url": "not a url"}, format="json")
    assert bad.status_code == 400 and {"priority", "external_url"} <= set(bad.json()["error"]["fields"])
    viewer = api.as_(cast.viewer)
    assert viewer.patch(f"/api/v1/action-items/{item.json()['id']}/", {"status": "open"}, format="json").status_code == 403
