"""PagerDuty Events API v1 at PagerDuty's own path, with PagerDuty's v1 answers."""

from __future__ import annotations

import json

import pytest

from incidents.integrations.tests.helpers import alert_events, fixture_json, make, post_json, process_pending
from incidents.models import Alert, Delivery, Incident, IncidentStatus, IntegrationKind

PD = IntegrationKind.PAGERDUTY_EVENTS_V2
URL = "/generic/2010-04-15/create_event.json"
pytestmark = pytest.mark.django_db


def event(name: str, token: str, **changes) -> dict:
    body = fixture_json("pagerduty", name)
    body["service_key"] = token
    body.update(changes)
    return body


def test_a_script_triggers_acknowledges_and_resolves_an_incident(client) -> None:
    integration, token = make(PD)
    response = post_json(client, URL, event("events_v1_script_trigger.json", token))
    assert response.status_code == 200
    assert response.json() == {"status": "success", "message": "Event processed", "incident_key": "srv01/HTTP"}
    process_pending()
    incident = Incident.objects.get()
    assert incident.title == "FAILURE for production/HTTP on machine srv01.acme.com"
    alert = Alert.objects.get()
    assert alert.fingerprint == "srv01/HTTP"
    assert alert.source_url == "https://monitoring.service.com"
    assert json.loads(alert.annotations["details"]) == {"ping time": "1500ms", "load avg": 0.75}
    assert post_json(client, URL, event("events_v1_script_acknowledge.json", token)).status_code == 200
    process_pending()
    assert Alert.objects.get().status == "acknowledged"
    assert post_json(client, URL, event("events_v1_script_resolve.json", token)).status_code == 200
    process_pending()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED


def test_alertmanager_v1_events_with_their_empty_v2_fields_open_and_resolve(client) -> None:
    integration, token = make(PD)
    assert post_json(client, URL, event("events_v1_alertmanager_trigger.json", token)).status_code == 200
    process_pending()
    incident = Incident.objects.get()
    assert incident.title == "[FIRING:1] DiskFull (db-1 critical)"
    assert incident.severity.name == "SEV1"  # no severity in v1: the most severe, never the least
    assert post_json(client, URL, event("events_v1_alertmanager_resolve.json", token)).status_code == 200
    process_pending()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED


def test_a_severity_in_details_is_mapped(client) -> None:
    integration, token = make(PD)
    body = event("events_v1_script_trigger.json", token)
    body["details"]["severity"] = "warning"
    post_json(client, URL, body)
    process_pending()
    assert Incident.objects.get().severity.name == "SEV3"


def test_a_repeated_trigger_is_deduplicated_by_incident_key(client) -> None:
    integration, token = make(PD)
    for _ in range(3):
        assert post_json(client, URL, event("events_v1_script_trigger.json", token)).status_code == 200
    process_pending()
    bodies = [e.body for e in alert_events(Incident.objects.get())]
    assert [b for b in bodies if b.startswith("Alert firing")] == ["Alert firing: FAILURE for production/HTTP on machine srv01.acme.com"]
    assert len(bodies) == 2  # and the note on the severity it opened at


def test_a_trigger_without_incident_key_gets_one_and_resolve_uses_it(client) -> None:
    integration, token = make(PD)
    body = event("events_v1_script_trigger.json", token)
    del body["incident_key"]
    key = post_json(client, URL, body).json()["incident_key"]
    assert len(key) == 32
    process_pending()
    assert Alert.objects.get().fingerprint == key
    post_json(client, URL, {"service_key": token, "event_type": "resolve", "incident_key": key})
    process_pending()
    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_v1_and_v2_events_with_the_same_key_reach_the_same_alert(client) -> None:
    integration, token = make(PD)
    post_json(client, URL, event("events_v1_script_trigger.json", token))
    v2 = {"routing_key": token, "event_action": "resolve", "dedup_key": "srv01/HTTP"}
    assert post_json(client, "/integrations/pagerduty/v2/enqueue", v2).status_code == 202
    process_pending()
    assert Alert.objects.get().status == "resolved"
    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_acknowledge_or_resolve_of_an_unknown_key_is_dropped(client) -> None:
    integration, token = make(PD)
    for name in ("events_v1_script_acknowledge.json", "events_v1_script_resolve.json"):
        assert post_json(client, URL, event(name, token)).status_code == 200
    assert process_pending() == ["processed", "processed"]
    assert not Alert.objects.exists() and not Incident.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"service_key": "short"}, "Service key is the wrong length (should be 32 characters)"),
        ({"service_key": ""}, "'service_key' is missing or blank"),
        ({"event_type": "explode"}, "'event_type' is invalid (must be one of: trigger, acknowledge, resolve)"),
        ({"event_type": None}, "'event_type' is missing or blank"),
        ({"description": ""}, "'description' is missing or blank"),
        ({"description": "x" * 1025}, "'description' is too long (maximum is 1024 characters)"),
        ({"incident_key": "k" * 256}, "'incident_key' is too long (maximum is 255 characters)"),
        ({"incident_key": 42}, "'incident_key' must be a string"),
        ({"details": [1, 2]}, "'details' must be an object"),
    ],
)
def test_invalid_events_get_pagerdutys_v1_400(client, change, message) -> None:
    integration, token = make(PD)
    body = event("events_v1_script_trigger.json", token)
    body.update(change)
    response = post_json(client, URL, body)
    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert response.json()["message"] == "Event object is invalid"
    assert message in response.json()["errors"]
    assert not Delivery.objects.exists()


def test_resolve_without_incident_key_is_invalid(client) -> None:
    integration, token = make(PD)
    response = post_json(client, URL, {"service_key": token, "event_type": "resolve"})
    assert response.status_code == 400
    assert response.json()["errors"] == ["'incident_key' is missing or blank"]


def test_an_unknown_or_disabled_service_key_is_refused_and_nothing_is_stored(client) -> None:
    integration, token = make(PD, enabled=False)
    response = post_json(client, URL, event("events_v1_script_trigger.json", "f" * 32))
    assert response.status_code == 400 and response.json()["errors"] == ["Service key is invalid"]
    response = post_json(client, URL, event("events_v1_script_trigger.json", token))
    assert response.status_code == 400 and response.json()["status"] == "invalid event"
    assert not Delivery.objects.exists()


def test_a_v2_event_at_the_v1_path_is_invalid(client) -> None:
    integration, token = make(PD)
    body = fixture_json("pagerduty", "events_v2_script_trigger.json")
    body["routing_key"] = token
    response = post_json(client, URL, body)
    assert response.status_code == 400
    assert "'service_key' is missing or blank" in response.json()["errors"]


def test_over_the_rate_limit_answers_403_throttle_as_v1_does(client) -> None:
    integration, token = make(PD, rate_limit_per_minute=1)
    body = event("events_v1_script_trigger.json", token)
    assert post_json(client, URL, body).status_code == 200
    response = post_json(client, URL, body)
    assert response.status_code == 403 and response.json()["status"] == "throttle event"


def test_not_json_empty_or_get_is_refused(client) -> None:
    response = client.post(URL, data="service_key=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and response.json()["status"] == "invalid event"
    assert client.post(URL, data=b"", content_type="application/json").status_code == 400
    assert client.get(URL).status_code == 405


def test_the_service_key_is_redacted_where_the_delivery_is_shown(client) -> None:
    integration, token = make(PD)
    post_json(client, URL, event("events_v1_script_trigger.json", token))
    delivery = Delivery.objects.get()
    assert token in delivery.body
    assert token not in delivery.shown_body
    shown = delivery.shown_payload
    assert isinstance(shown, dict) and shown["service_key"] == "[redacted]"
