"""Source links are http(s) only, where stored and where rendered; secrets in stored
payloads are never shown or returned."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from incidents.integrations.redaction import REDACTED, redact, redacted_body
from incidents.integrations.tests.helpers import fixture_json, make, post_json, process_pending
from incidents.models import Alert, Delivery, IntegrationKind

pytestmark = pytest.mark.django_db

SCRIPT = "javascript:alert(document.cookie)"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pagerduty_trigger(token: str, **changes) -> dict:
    event = fixture_json("pagerduty", "events_v2_script_trigger.json")
    event["routing_key"] = token
    event.update(changes)
    return event


def test_alertmanager_generator_url_that_is_not_http_is_not_stored(client) -> None:
    integration, token = make(IntegrationKind.ALERTMANAGER)
    payload = fixture_json("alertmanager", "firing.json")
    payload["alerts"][0]["generatorURL"] = SCRIPT
    assert post_json(client, f"/integrations/alertmanager/{token}/", payload).status_code == 202
    process_pending()
    urls = dict(Alert.objects.values_list("fingerprint", "source_url"))
    assert urls[payload["alerts"][0]["fingerprint"]] == ""
    # the neighbours keep their real links
    assert any(url.startswith("http") for url in urls.values())


def test_generic_url_and_pagerduty_client_url_that_are_not_http_are_not_stored(client) -> None:
    _generic, token = make(IntegrationKind.GENERIC_JSON)
    body = {"fingerprint": "x1", "title": "X", "url": " JaVaScRiPt:alert(1)"}
    assert post_json(client, f"/integrations/generic/{token}/", body).status_code == 202
    _pd, routing_key = make(IntegrationKind.PAGERDUTY_EVENTS_V2, name="pd")
    event = pagerduty_trigger(routing_key, client_url="data:text/html,<script>alert(1)</script>", links=[])
    assert post_json(client, "/integrations/pagerduty/v2/enqueue", event).status_code == 202
    process_pending()
    assert sorted(Alert.objects.values_list("source_url", flat=True)) == ["", ""]


def test_a_stored_script_link_from_before_is_not_rendered_as_a_link(cast) -> None:
    integration, _token = make(IntegrationKind.GENERIC_JSON)
    now = timezone.now()
    alert = Alert.objects.create(integration=integration, fingerprint="old", group_key="old", title="Old row", source_url=SCRIPT,
                                 starts_at=now, last_transition_at=now)  # fmt: skip
    page = signed_in(cast.responder).get(f"/integrations/alerts/{alert.pk}/").content.decode()
    assert "Old row" in page
    assert "javascript:" not in page.lower()
    assert alert.safe_source_url == ""
    alert.source_url = "https://grafana.example.com/d/1?x=1"
    alert.save()
    page = signed_in(cast.responder).get(f"/integrations/alerts/{alert.pk}/").content.decode()
    assert 'href="https://grafana.example.com/d/1?x=1"' in page


def test_redact_hides_secret_values_at_any_depth_and_keeps_the_rest() -> None:
    payload: dict[str, Any] = {
        "routing_key": "R0UTINGKEY0000000000000000000000",
        "payload": {"summary": "disk", "custom_details": {"api_token": "t0ps3cret", "Authorization": "Bearer abc", "mount": "/var"}},
        "integration_key": "abc",
        "service_key": "def",
        "items": [{"password": "hunter2", "name": "n"}],
        "tokens_used": 3,  # a number, not a secret value
    }
    out = redact(payload)
    assert out["routing_key"] == out["integration_key"] == out["service_key"] == REDACTED
    assert out["payload"]["custom_details"] == {"api_token": REDACTED, "Authorization": REDACTED, "mount": "/var"}
    assert out["items"] == [{"password": REDACTED, "name": "n"}]
    assert out["payload"]["summary"] == "disk" and out["tokens_used"] == 3
    assert payload["routing_key"].startswith("R0UTING")  # the input is left alone
    # a body that is not JSON still loses anything that looks like a secret field
    text = redacted_body('{"routing_key": "R0UTINGKEY0000000000000000000000", "x": ')
    assert "R0UTINGKEY" not in text and REDACTED in text


def test_the_pagerduty_routing_key_is_not_shown_to_responders_or_managers(client, cast) -> None:
    integration, routing_key = make(IntegrationKind.PAGERDUTY_EVENTS_V2)
    event = pagerduty_trigger(routing_key)
    event["payload"]["custom_details"]["api_token"] = "tok-very-secret"
    assert post_json(client, "/integrations/pagerduty/v2/enqueue", event).status_code == 202
    process_pending()
    alert = Alert.objects.get()
    assert routing_key in Delivery.objects.get().body  # kept raw, as received
    alert_page = signed_in(cast.responder).get(f"/integrations/alerts/{alert.pk}/").content.decode()
    assert "Disk /var above 95%" in alert_page
    assert routing_key not in alert_page and REDACTED in alert_page
    assert "tok-very-secret" not in alert_page and "/var" in alert_page  # custom details, as annotations
    integration_page = signed_in(cast.owner).get(f"/integrations/{integration.pk}/").content.decode()
    assert routing_key not in integration_page and REDACTED in integration_page
    api = signed_in(cast.owner).get(f"/api/v1/integrations/{integration.pk}/deliveries/")
    assert api.status_code == 200
    assert routing_key not in api.content.decode() and "tok-very-secret" not in api.content.decode()
    body = api.json()["results"][0]["payload"]
    assert body["routing_key"] == REDACTED and body["payload"]["summary"] == "Disk /var above 95% on db-3"
    assert json.loads(json.dumps(body))  # plain JSON
