"""Message templates: placeholders checked when saved, and a public update posted
from a template in one call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from incidents.models import Incident, MessageTemplate

pytestmark = pytest.mark.django_db


def _declare(client, **overrides) -> dict:
    body = {"title": "Checkout is failing", "severity": "SEV1", "visibility": "public",
            "services": [{"service": "api", "impact": "major_outage"}], **overrides}  # fmt: skip
    response = client.post("/api/v1/incidents/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_unknown_placeholders_are_refused_when_a_template_is_saved(api, cast) -> None:
    manager = api.as_(cast.owner)
    response = manager.post("/api/v1/message-templates/", {"kind": "update", "name": "x", "body": "We fix {titel} by {eta}"}, format="json")
    assert response.status_code == 400
    assert "{titel}" in response.json()["error"]["fields"]["body"][0]
    # A maintenance placeholder is not an incident's, and the other way round.
    response = manager.post("/api/v1/message-templates/", {"kind": "initial", "name": "y", "body": "During {window}"}, format="json")
    assert response.status_code == 400
    ok = manager.post("/api/v1/message-templates/", {"kind": "maintenance_notice", "name": "z", "body": "During {window}: {impact}"}, format="json")
    assert ok.status_code == 201, ok.json()
    # Braces that are not placeholders (JSON, code) are text.
    ok = manager.post("/api/v1/message-templates/", {"kind": "update", "name": "json", "body": 'Send {"retry": true} — {severity}'}, format="json")
    assert ok.status_code == 201
    # Changing the kind re-checks the body it keeps.
    response = manager.patch(f"/api/v1/message-templates/{ok.json()['id']}/", {"kind": "maintenance_start"}, format="json")
    assert response.status_code == 400 and MessageTemplate.objects.get(name="json").kind == "update"


@time_machine.travel(datetime(2024, 5, 1, 10, 0, tzinfo=UTC), tick=False)
def test_a_public_update_from_a_template_fills_every_placeholder(api, cast, settings) -> None:
    settings.PUBLIC_URL = "https://status.example.com"
    template = MessageTemplate.objects.create(
        kind="update", name="Full update", status="identified",
        body=("{severity} {status}: {title} affects {services} since {started_at} ({duration}). "
              "Next update {next_update}; expected fix {eta}. {incident_url} {status_page_url}"),
    )  # fmt: skip
    incident = _declare(api.as_(cast.responder))
    with time_machine.travel(datetime(2024, 5, 1, 11, 25, tzinfo=UTC), tick=False):
        response = api.as_(cast.responder).post(
            f"/api/v1/incidents/{incident['reference']}/updates/",
            {"template": "Full update", "timezone": "Europe/Paris",
             "values": {"next_update": "2024-05-01T12:00:00Z", "eta": "within the hour"}},
            format="json",
        )  # fmt: skip
    assert response.status_code == 201, response.json()
    assert response.json()["body"] == (
        "SEV1 identified: Checkout is failing affects Public API since 2024-05-01 12:00 CEST (1 h 25 min). "
        f"Next update 2024-05-01 14:00 CEST; expected fix within the hour. https://status.example.com/status/incidents/{incident['id']}/ "
        "https://status.example.com/status/"
    )
    assert response.json()["status"] == "identified"
    assert Incident.objects.get(pk=incident["id"]).status == "identified"  # the template's status applies
    assert template.pk


def test_overrides_win_and_missing_values_are_named(api, cast) -> None:
    MessageTemplate.objects.create(kind="update", name="Next", status="identified", body="Working on {title}. Next update {next_update}.")
    incident = _declare(api.as_(cast.responder))
    url = f"/api/v1/incidents/{incident['reference']}/updates/"
    missing = api.as_(cast.responder).post(url, {"template": "Next"}, format="json")
    assert missing.status_code == 400 and "next_update" in missing.json()["error"]["fields"]["values"][0]
    assert not Incident.objects.get(pk=incident["id"]).public_updates.exists()  # nothing half-posted
    response = api.as_(cast.responder).post(url, {"template": "Next", "status": "monitoring", "body": "{title}: a fix is out.",
                                                  "values": {"title": "Checkout"}}, format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    assert response.json()["body"] == "Checkout: a fix is out." and response.json()["status"] == "monitoring"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"template": "Nope"}, "template"), ({}, "body"), ({"template": "T", "timezone": "Mars/Olympus"}, "timezone"),
     ({"template": "T", "body": "Hi {nonsense}"}, "body")],  # fmt: skip
)
def test_bad_template_requests_are_field_errors(api, cast, body, field) -> None:
    MessageTemplate.objects.create(kind="update", name="T", body="{title}")
    incident = _declare(api.as_(cast.responder))
    response = api.as_(cast.responder).post(f"/api/v1/incidents/{incident['reference']}/updates/", body, format="json")
    assert response.status_code == 400 and field in response.json()["error"]["fields"], response.json()


def test_the_war_room_draft_leaves_values_only_the_author_knows(cast, client) -> None:
    template = MessageTemplate.objects.create(kind="update", name="Draft", body="{title} on {services}; next update {next_update}")
    client.force_login(cast.responder)
    incident = _declare(_api(cast))
    html = client.get(f"/incidents/{incident['reference']}/updates/template/?template={template.pk}").content.decode()
    assert "Checkout is failing on Public API; next update {next_update}" in html


def _api(cast):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(cast.responder)
    return client
