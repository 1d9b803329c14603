from __future__ import annotations

import json
from datetime import timedelta

import pytest

from incidents.integrations.tests.helpers import alert_events, fixture_json, make, post_json, process_pending
from incidents.models import Alert, Delivery, Incident, IncidentStatus, IntegrationKind

PD = IntegrationKind.PAGERDUTY_EVENTS_V2
URL = "/integrations/pagerduty/v2/enqueue"
pytestmark = pytest.mark.django_db


def event(name: str, token: str, **changes) -> dict:
    body = fixture_json("pagerduty", name)
    body["routing_key"] = token
    body.update(changes)
    return body


def test_alertmanager_pagerduty_notifications_open_and_resolve_an_incident(client) -> None:
    integration, token = make(PD)
    response = post_json(client, URL, event("events_v2_alertmanager_trigger.json", token))
    assert response.status_code == 202
    dedup_key = "cbc7a356b874c7d0332c73753d5082204bea3c18a5cb2a9a50e75f6687ffb86b"
    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
    process_pending()
    incident = Incident.objects.get()
    assert incident.title == "[FIRING:2] HighErrorRate (api api critical)"
    assert incident.severity.name == "SEV1"
    assert Alert.objects.get().fingerprint == dedup_key
    assert post_json(client, URL, event("events_v2_alertmanager_resolve.json", token)).status_code == 202
    process_pending()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED


def test_a_repeated_trigger_is_deduplicated_by_key(client) -> None:
    integration, token = make(PD)
    for _ in range(3):
        post_json(client, URL, event("events_v2_script_trigger.json", token))
    process_pending()
    incident = Incident.objects.get()
    assert len(alert_events(incident)) == 1
    assert incident.severity.name == "SEV3"  # warning


def test_a_trigger_without_dedup_key_gets_one_and_it_is_used(client) -> None:
    integration, token = make(PD)
    body = event("events_v2_script_trigger.json", token)
    del body["dedup_key"]
    key = post_json(client, URL, body).json()["dedup_key"]
    assert len(key) == 32
    process_pending()
    assert Alert.objects.get().fingerprint == key
    resolve = {"routing_key": token, "event_action": "resolve", "dedup_key": key}
    post_json(client, URL, resolve)
    process_pending()
    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_acknowledge_is_recorded_once_and_resolve_after_it_works(client) -> None:
    integration, token = make(PD)
    post_json(client, URL, event("events_v2_script_trigger.json", token))
    post_json(client, URL, event("events_v2_script_acknowledge.json", token))
    post_json(client, URL, event("events_v2_script_acknowledge.json", token))
    process_pending()
    incident = Incident.objects.get()
    assert Alert.objects.get().status == "acknowledged"
    assert [e.body for e in alert_events(incident)][-1].startswith("Alert acknowledged at the source")
    assert len(alert_events(incident)) == 2
    post_json(client, URL, event("events_v2_script_resolve.json", token))
    process_pending()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED


def test_acknowledge_or_resolve_of_an_unknown_key_is_dropped(client) -> None:
    integration, token = make(PD)
    for name in ("events_v2_script_acknowledge.json", "events_v2_script_resolve.json"):
        assert post_json(client, URL, event(name, token)).status_code == 202
    assert process_pending() == ["processed", "processed"]
    assert not Alert.objects.exists() and not Incident.objects.exists()


def test_after_resolve_a_trigger_opens_a_new_incident(client) -> None:
    integration, token = make(PD, reopen_window=timedelta(0))
    trigger = event("events_v2_script_trigger.json", token)
    del trigger["payload"]["timestamp"]  # the time of receipt orders the events
    post_json(client, URL, trigger)
    post_json(client, URL, event("events_v2_script_resolve.json", token))
    post_json(client, URL, trigger)
    process_pending()
    first, second = Incident.objects.order_by("id")
    assert first.status == IncidentStatus.RESOLVED and second.status == IncidentStatus.INVESTIGATING


def test_the_same_key_under_another_routing_key_is_another_alert(client) -> None:
    one, token_one = make(PD, name="one")
    two, token_two = make(PD, name="two")
    post_json(client, URL, event("events_v2_script_trigger.json", token_one))
    post_json(client, URL, event("events_v2_script_trigger.json", token_two))
    process_pending()
    assert Incident.objects.count() == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"routing_key": "short"}, "Length of 'routing_key' is incorrect (should be 32 characters)"),
        ({"event_action": "explode"}, "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)"),
        ({"dedup_key": "k" * 256}, "'dedup_key' is too long (maximum is 255 characters)"),
        ({"payload": {"summary": "x", "source": "y", "severity": "fatal"}}, "'payload.severity' is invalid (must be one of: critical, error, warning, info)"),
        ({"payload": {"source": "y", "severity": "info"}}, "'payload.summary' is missing or blank"),
        ({"payload": None}, "'payload' is missing or blank"),
    ],
)
def test_invalid_events_get_pagerduty_style_400(client, change, message) -> None:
    integration, token = make(PD)
    body = event("events_v2_script_trigger.json", token)
    body.update(change)
    response = post_json(client, URL, body)
    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert response.json()["message"] == "Event object is invalid"
    assert message in response.json()["errors"]
    assert not Delivery.objects.exists()


def test_resolve_without_dedup_key_is_invalid(client) -> None:
    integration, token = make(PD)
    response = post_json(client, URL, {"routing_key": token, "event_action": "resolve"})
    assert response.status_code == 400
    assert "'dedup_key' is missing or blank" in response.json()["errors"]


def test_an_unknown_routing_key_is_refused(client) -> None:
    make(PD)
    response = post_json(client, URL, event("events_v2_script_trigger.json", "f" * 32))
    assert response.status_code == 400
    assert response.json()["errors"] == ["Invalid routing key"]


def test_not_json_is_a_400(client) -> None:
    response = client.post(URL, data="routing_key=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and response.json()["status"] == "invalid event"


def test_over_the_rate_limit_answers_429(client) -> None:
    integration, token = make(PD, rate_limit_per_minute=1)
    body = event("events_v2_script_trigger.json", token)
    assert post_json(client, URL, body).status_code == 202
    response = post_json(client, URL, body)
    assert response.status_code == 429 and response.json()["status"] == "throttle event"
    assert response["Retry-After"]


def test_the_endpoint_ignores_csrf(client) -> None:
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    integration, token = make(PD)
    response = csrf_client.post(URL, data=json.dumps(event("events_v2_script_trigger.json", token)), content_type="application/json")
    assert response.status_code == 202


def test_an_empty_or_non_utf8_body_is_a_400(client) -> None:
    assert client.post(URL, data=b"", content_type="application/json").status_code == 400
    assert client.post(URL, data='{"a": 1}'.encode("utf-16"), content_type="application/json").status_code == 400
