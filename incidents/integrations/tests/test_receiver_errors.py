"""Input no sender should send is a clear 4xx from every receiver, never a 500,
and nothing is stored."""

from __future__ import annotations

import json

import pytest

from incidents.integrations.pagerduty import webhooks_v3
from incidents.integrations.tests.helpers import fixture_json, make, post_json
from incidents.models import Delivery, IntegrationKind

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000
SECRET = "ChangeMe-subscription-secret-1234567890"


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        (IntegrationKind.ALERTMANAGER, "/integrations/alertmanager/{token}/"),
        (IntegrationKind.GENERIC_JSON, "/integrations/generic/{token}/"),
    ],
)
def test_a_body_nested_100000_deep_is_a_400_with_the_reason(client, kind, url) -> None:
    _, token = make(kind)
    response = post_json(client, url.format(token=token), DEEP)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_payload"
    assert error["fields"]["payload"] == ["The JSON is nested more than 64 levels deep."]
    assert not Delivery.objects.exists()


def test_pagerduty_v2_refuses_a_deep_body_in_its_own_answer_shape(client) -> None:
    make(IntegrationKind.PAGERDUTY_EVENTS_V2)
    response = post_json(client, "/integrations/pagerduty/v2/enqueue", "{\"a\":" * 60_000 + "1" + "}" * 60_000)
    assert response.status_code == 400
    assert response.json() == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["The JSON is nested more than 64 levels deep."],
    }


def test_pagerduty_v3_refuses_a_deep_body_even_when_signed(client) -> None:
    _, token = make(IntegrationKind.PAGERDUTY_WEBHOOK_V3, signing_secret=SECRET)
    body = DEEP.encode()
    response = post_json(
        client, f"/integrations/pagerduty/v3/{token}/", DEEP, HTTP_X_PAGERDUTY_SIGNATURE=webhooks_v3.sign(body, SECRET)
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["payload"] == ["The JSON is nested more than 64 levels deep."]
    assert not Delivery.objects.exists()


def test_an_event_action_that_is_a_list_is_a_pagerduty_400(client) -> None:
    _, token = make(IntegrationKind.PAGERDUTY_EVENTS_V2)
    body = fixture_json("pagerduty", "events_v2_script_trigger.json")
    body.update(routing_key=token, event_action=["trigger"])
    response = post_json(client, "/integrations/pagerduty/v2/enqueue", body)
    assert response.status_code == 400
    assert response.json() == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["'event_action' is invalid (must be one of: trigger, acknowledge, resolve)"],
    }
    assert not Delivery.objects.exists()


def test_a_non_ascii_pagerduty_signature_is_a_401(client) -> None:
    _, token = make(IntegrationKind.PAGERDUTY_WEBHOOK_V3, signing_secret=SECRET)
    body = json.dumps(fixture_json("pagerduty", "v3_incident_triggered.json"))
    for signature in ("v1=é", "v1=" + "ü" * 64, "v1=ab,v1=\u2603"):
        response = post_json(client, f"/integrations/pagerduty/v3/{token}/", body, HTTP_X_PAGERDUTY_SIGNATURE=signature)
        assert response.status_code == 401, signature
        assert response.json()["error"]["code"] == "signature_invalid"
    assert not Delivery.objects.exists()


def test_a_deeply_nested_rule_on_the_integration_form_is_a_form_error(client, cast) -> None:
    client.force_login(cast.owner)
    response = client.post("/integrations/", {
        "kind": "alertmanager", "name": "x", "rate_limit_per_minute": 1, "default_action": "declare",
        "resolve_policy": "resolve", "reopen_minutes": 0, "routing_rules": "[" * 100_000 + "]" * 100_000,
    })  # fmt: skip
    assert response.status_code == 400
    assert "nested more than 64 levels deep" in response.content.decode()
