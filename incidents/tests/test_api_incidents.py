from __future__ import annotations

from typing import Any

import pytest

from incidents.models import Impact, Incident, IncidentStatus, TimelineEvent, TimelineKind
from incidents.services import incident_change_status
from portal.tests.factories import declare
from portal.tests.support import present

pytestmark = pytest.mark.django_db


def _declare(client: Any, **overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Checkout is failing",
        "severity": "SEV1",
        "visibility": "public",
        "services": [{"service": "api", "impact": "major_outage"}],
        "tags": ["payments"],
        **overrides,
    }
    response = client.post("/api/v1/incidents/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_responder_declares_an_incident_with_services_commander_and_tags(api, cast) -> None:
    data = _declare(api.as_(cast.responder), commander="responder")
    assert data["reference"] == f"INC-{data['id']}"
    assert data["status"] == "investigating"
    assert data["severity"]["name"] == "SEV1"
    assert data["impacts"] == [{"service": "api", "name": "Public API", "impact": "major_outage"}]
    assert data["commander"]["username"] == "responder"
    assert data["tags"] == ["payments"]
    assert data["allowed_transitions"] == ["identified", "monitoring", "resolved"]
    assert data["acknowledged_at"] is not None  # a commander was named at declaration
    kinds = list(TimelineEvent.objects.filter(incident_id=data["id"]).values_list("kind", flat=True))
    assert sorted(kinds) == sorted([TimelineKind.DECLARED, TimelineKind.IMPACT_CHANGE, TimelineKind.ROLE_CHANGE])


def test_status_change_through_the_api_and_the_409_names_allowed_transitions(api, cast) -> None:
    client = api.as_(cast.responder)
    ref = _declare(client)["reference"]
    ok = client.post(f"/api/v1/incidents/{ref}/status/", {"status": "resolved"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "resolved"
    refused = client.post(f"/api/v1/incidents/{ref}/status/", {"status": "identified"}, format="json")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "invalid_transition"
    assert error["allowed"] == ["investigating"]
    assert error["current"] == "resolved" and error["requested"] == "identified"


def test_reopen_without_reason_is_a_400_with_a_field_error(api, cast) -> None:
    client = api.as_(cast.responder)
    ref = _declare(client)["reference"]
    client.post(f"/api/v1/incidents/{ref}/status/", {"status": "resolved"}, format="json")
    response = client.post(f"/api/v1/incidents/{ref}/status/", {"status": "investigating"}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]


def test_severity_roles_impacts_notes_and_visibility(api, cast) -> None:
    client = api.as_(cast.responder)
    ref = _declare(client)["reference"]
    assert client.post(f"/api/v1/incidents/{ref}/severity/", {"severity": "SEV3", "reason": "contained"}, format="json").json()[
        "severity"
    ]["name"] == "SEV3"
    roles = client.post(f"/api/v1/incidents/{ref}/roles/", {"role": "scribe", "user": cast.owner.pk}, format="json").json()["roles"]
    assert [(r["role"], r["user"]["username"]) for r in roles] == [("scribe", "owner")]
    handover = client.post(f"/api/v1/incidents/{ref}/roles/", {"role": "scribe", "user": "responder"}, format="json")
    assert [r["user"]["username"] for r in handover.json()["roles"]] == ["responder"]
    cleared = client.post(f"/api/v1/incidents/{ref}/roles/", {"role": "scribe", "user": None}, format="json")
    assert cleared.json()["roles"] == []
    impacts = client.post(f"/api/v1/incidents/{ref}/impacts/", {"service": "billing-worker", "impact": "partial_outage"}, format="json")
    assert {i["service"] for i in impacts.json()["impacts"]} == {"api", "billing-worker"}
    removed = client.post(f"/api/v1/incidents/{ref}/impacts/", {"service": "api", "impact": None}, format="json")
    assert [i["service"] for i in removed.json()["impacts"]] == ["billing-worker"]
    note = client.post(f"/api/v1/incidents/{ref}/notes/", {"body": "Rolled back", "pinned": True}, format="json")
    assert note.status_code == 201 and note.json()["pinned"] is True and note.json()["author"]["username"] == "responder"
    internal = client.post(f"/api/v1/incidents/{ref}/visibility/", {"visibility": "internal"}, format="json")
    assert internal.json()["visibility"] == "internal"
    kinds = [e["kind"] for e in client.get(f"/api/v1/incidents/{ref}/timeline/").json()["results"]]
    for kind in ("severity_change", "role_change", "impact_change", "note", "visibility_change"):
        assert kind in kinds


def test_public_update_moves_status_and_components_and_renders_safe_html(api, cast) -> None:
    client = api.as_(cast.responder)
    ref = _declare(client)["reference"]
    response = client.post(
        f"/api/v1/incidents/{ref}/updates/",
        {
            "body": "Fix **deployed** <script>alert(1)</script> [more](javascript:alert(1))",
            "status": "monitoring",
            "components": [{"service": "api", "impact": "degraded_performance"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    update = response.json()
    assert update["status"] == "monitoring"
    assert "<strong>deployed</strong>" in update["body_html"]
    assert "<script" not in update["body_html"] and "javascript:" not in update["body_html"]
    assert update["components"] == [
        {"service": "api", "name": "Public API", "old_status": "major_outage", "new_status": "degraded_performance"}
    ]
    detail = client.get(f"/api/v1/incidents/{ref}/").json()
    assert detail["status"] == "monitoring"
    assert client.get(f"/api/v1/incidents/{ref}/updates/").json()[0]["id"] == update["id"]


def test_public_updates_are_refused_on_internal_incidents_and_for_internal_services(api, cast) -> None:
    client = api.as_(cast.responder)
    internal = _declare(client, visibility="internal")["reference"]
    assert client.post(f"/api/v1/incidents/{internal}/updates/", {"body": "hi"}, format="json").status_code == 409
    public = _declare(client)["reference"]
    response = client.post(
        f"/api/v1/incidents/{public}/updates/",
        {"body": "hi", "components": [{"service": "billing-worker", "impact": "major_outage"}]},
        format="json",
    )
    assert response.status_code == 400
    assert not Incident.objects.get(pk=present(Incident.id_from_reference(public))).public_updates.exists()


def test_edit_title_summary_and_tags(api, cast) -> None:
    client = api.as_(cast.responder)
    ref = _declare(client)["reference"]
    response = client.patch(f"/api/v1/incidents/{ref}/", {"title": "Card payments failing", "tags": ["cards", "psp"]}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "Card payments failing" and response.json()["tags"] == ["cards", "psp"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"severity": "SEV1"}, "title"),
        ({"title": "x"}, "severity"),
        ({"title": "x", "severity": "SEV9"}, "severity"),
        ({"title": "x", "severity": 999999999999999999999}, "severity"),
        ({"title": "x", "severity": ["SEV1"]}, "severity"),
        ({"title": "x", "severity": "SEV1", "visibility": "secret"}, "visibility"),
        ({"title": "x", "severity": "SEV1", "services": [{"service": "nope", "impact": "major_outage"}]}, "services.0.service"),
        ({"title": "x", "severity": "SEV1", "services": [{"service": "api", "impact": "operational"}]}, "services.0.impact"),
        ({"title": "x", "severity": "SEV1", "services": "api"}, "services"),
        ({"title": "x", "severity": "SEV1", "commander": 10**30}, "commander"),
        ({"title": "x", "severity": "SEV1", "commander": {"id": 1}}, "commander"),
        ({"title": "x" * 201, "severity": "SEV1"}, "title"),
        ({"title": "x", "severity": "SEV1", "started_at": "yesterday"}, "started_at"),
        ({"title": "x", "severity": "SEV1", "started_at": "2999-01-01T00:00:00Z"}, "started_at"),
        ({"title": "x", "severity": "SEV1", "tags": [{"a": 1}]}, "tags.0"),
    ],
)
def test_invalid_declarations_get_a_400_naming_the_field(api, cast, body: dict[str, Any], field: str) -> None:
    response = api.as_(cast.responder).post("/api/v1/incidents/", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert field in error["fields"], error
    assert Incident.objects.count() == 0


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[]", b"null", b'"text"', b"\xff\xfe", b'{"title": "\\ud800"}', b"1e999999", b'{"title": {"$gt": ""}}'],
)
def test_malformed_bodies_never_produce_a_500(api, cast, raw: bytes) -> None:
    response = api.as_(cast.responder).generic("POST", "/api/v1/incidents/", raw, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert "error" in response.json()


@pytest.mark.parametrize("path", ["/api/v1/incidents/INC-999999/", "/api/v1/incidents/INC-abc/", "/api/v1/incidents/99999999999999999999999/",
                                  "/api/v1/incidents/INC-1/timeline/", "/api/v1/services/nope/"])
def test_unknown_objects_are_404_in_the_error_shape(api, cast, path: str) -> None:
    response = api.as_(cast.viewer).get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_list_filters_by_status_severity_service_open_and_text(api, cast) -> None:
    a = declare(by=cast.responder, title="Database failover", sev="SEV1", impacts={cast.service: Impact.MAJOR_OUTAGE})
    b = declare(by=cast.responder, title="Slow search", sev="SEV3")
    incident_change_status(incident=b, status=IncidentStatus.RESOLVED, by=cast.responder)
    client = api.as_(cast.viewer)

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/incidents/{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("") == [b.pk, a.pk]
    assert ids("?open=true") == [a.pk]
    assert ids("?open=false") == [b.pk]
    assert ids("?status=resolved") == [b.pk]
    assert ids("?status=investigating&status=resolved") == [b.pk, a.pk]
    assert ids("?severity=SEV1") == [a.pk]
    assert ids("?severity=sev3,SEV1") == [b.pk, a.pk]
    assert ids("?service=api") == [a.pk]
    assert ids("?q=failover") == [a.pk]
    assert ids(f"?q=INC-{b.pk}") == [b.pk]
    assert client.get("/api/v1/incidents/?status=bogus").status_code == 400
    assert client.get("/api/v1/incidents/?open=maybe").status_code == 400


def test_incident_list_and_timeline_are_cursor_paginated(api, cast) -> None:
    for n in range(7):
        declare(by=cast.responder, title=f"incident {n}")
    client = api.as_(cast.viewer)
    seen: list[int] = []
    url: str | None = "/api/v1/incidents/?page_size=3"
    while url:
        page = client.get(url).json()
        assert set(page) == {"next", "previous", "results"}
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == sorted(seen, reverse=True) and len(seen) == 7

    incident = present(Incident.objects.first())
    for n in range(5):
        client_r = api.as_(cast.responder)
        client_r.post(f"/api/v1/incidents/{incident.reference}/notes/", {"body": f"note {n}"}, format="json")
    events: list[int] = []
    url = f"/api/v1/incidents/{incident.reference}/timeline/?page_size=2"
    while url:
        page = client.get(url).json()
        events += [e["id"] for e in page["results"]]
        url = page["next"]
    assert len(events) == TimelineEvent.objects.filter(incident=incident).count()
    assert len(set(events)) == len(events)
    assert client.get(f"/api/v1/incidents/{incident.reference}/timeline/?cursor=garbage").status_code == 404


def test_pin_a_timeline_event(api, cast) -> None:
    client = api.as_(cast.responder)
    ref = _declare(client)["reference"]
    event_id = client.post(f"/api/v1/incidents/{ref}/notes/", {"body": "key finding"}, format="json").json()["id"]
    response = client.post(f"/api/v1/incidents/{ref}/timeline/{event_id}/pin/", {"pinned": True}, format="json")
    assert response.status_code == 200 and response.json()["pinned"] is True
    other = _declare(client)["reference"]
    assert client.post(f"/api/v1/incidents/{other}/timeline/{event_id}/pin/", {"pinned": True}, format="json").status_code == 404


def test_hand_built_output_keeps_the_declared_fields_of_the_schema(api, cast) -> None:
    """The hot read serializers build their dicts by hand; their keys must stay the
    declared fields that the OpenAPI schema publishes."""
    from incidents.api.serializers import (
        IncidentDetailSerializer,
        IncidentListSerializer,
        TimelineEventSerializer,
    )

    client = api.as_(cast.responder)
    ref = _declare(client, commander="responder")["reference"]
    listed = client.get("/api/v1/incidents/").json()["results"][0]
    assert list(listed) == IncidentListSerializer.Meta.fields
    assert list(client.get(f"/api/v1/incidents/{ref}/").json()) == IncidentDetailSerializer.Meta.fields
    event = client.get(f"/api/v1/incidents/{ref}/timeline/").json()["results"][0]
    assert list(event) == TimelineEventSerializer.Meta.fields
    assert set(event["author"]) == {"id", "username", "name"}


def test_the_list_built_from_rows_equals_the_serializer_output(api, cast) -> None:
    from incidents.api.serializers import IncidentListSerializer
    from incidents.selectors import incident_list_qs

    client = api.as_(cast.responder)
    _declare(client, commander="responder", tags=["b-tag", "a-tag"])
    _declare(client, services=[], visibility="internal", tags=[])
    listed = client.get("/api/v1/incidents/").json()["results"]
    expected = [IncidentListSerializer(incident).data for incident in incident_list_qs().order_by("-id")]
    assert listed == expected


def test_a_viewer_cannot_be_given_an_incident_role(api, cast) -> None:
    client = api.as_(cast.responder)
    ref = _declare(client)["reference"]
    for role in ("commander", "scribe"):
        refused = client.post(f"/api/v1/incidents/{ref}/roles/", {"role": role, "user": cast.viewer.pk}, format="json")
        assert refused.status_code == 400
        assert refused.json()["error"]["fields"]["user"] == ["Choose a responder or a manager."]
    detail = client.get(f"/api/v1/incidents/{ref}/").json()
    assert all(r["user"]["username"] != "viewer" for r in detail["roles"])
    kinds = [e["kind"] for e in client.get(f"/api/v1/incidents/{ref}/timeline/").json()["results"]]
    assert kinds.count("role_change") == sum(1 for r in detail["roles"])
