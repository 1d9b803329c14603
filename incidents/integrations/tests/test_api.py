"""The integrations and alerts REST API: the role matrix, the one error shape,
secrets shown once, validation shared with the pages, redaction."""

from __future__ import annotations

import json
from typing import Any

import pytest

from incidents.integrations import services
from incidents.integrations.pipeline import receive
from incidents.integrations.tests.helpers import (
    ensure_severities,
    fixture_json,
    make,
    post_json,
    process_pending,
)
from incidents.models import Alert, Delivery, DeliveryStatus, Integration, IntegrationKind, Severity
from portal.models import ApiToken, TokenScope

pytestmark = pytest.mark.django_db
PD = IntegrationKind.PAGERDUTY_EVENTS_V2
AM = IntegrationKind.ALERTMANAGER


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def create(api, user, **body):
    return api.as_(user).post("/api/v1/integrations/", body, format="json")


def test_a_manager_creates_an_integration_and_sees_its_secret_only_in_that_answer(api, cast, client) -> None:
    ensure_severities()
    response = create(api, cast.owner, kind=PD, name="Scripts", severity_mapping={"field": "severity", "map": {"critical": "SEV1"}, "default": "SEV3"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["secret"]) == 32 and body["url"].endswith("/integrations/pagerduty/v2/enqueue")
    assert body["severity_mapping"] == {"field": "severity", "map": {"critical": "SEV1"}, "default": "SEV3"}
    shown = api.as_(cast.owner).get(f"/api/v1/integrations/{body['id']}/").json()
    assert "secret" not in shown and body["secret"] not in json.dumps(shown)
    assert shown["token_hint"] == body["secret"][:6]
    # The secret works at once.
    event = fixture_json("pagerduty", "events_v2_script_trigger.json") | {"routing_key": body["secret"]}
    assert post_json(client, "/integrations/pagerduty/v2/enqueue", event).status_code == 202


def test_an_alertmanager_integrations_url_carries_the_new_token(api, cast) -> None:
    body = create(api, cast.owner, kind=AM, name="prom").json()
    assert body["url"].endswith(f"/integrations/alertmanager/{body['secret']}/")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "nagios", "name": "x"}, "kind"),
        ({"kind": AM}, "name"),
        ({"kind": AM, "name": "x", "routing_rules": [{"match": {"labels.team": "~("}}]}, "routing_rules"),
        ({"kind": AM, "name": "x", "routing_rules": [{"match": {}, "services": ["no-such-service"]}]}, "routing_rules"),
        ({"kind": AM, "name": "x", "severity_mapping": {"map": {"critical": "SEV9"}}}, "severity_mapping"),
        ({"kind": AM, "name": "x", "group_by": "alertname"}, "group_by"),
        ({"kind": IntegrationKind.PAGERDUTY_WEBHOOK_V3, "name": "x"}, "signing_secret"),
    ],
)
def test_bad_configurations_are_refused_with_the_field_named(api, cast, body, field) -> None:
    ensure_severities()
    error = assert_error(create(api, cast.owner, **body), 400)
    assert field in error["fields"]
    assert not Integration.objects.exists()


def test_routing_rules_and_mapping_are_validated_by_the_same_function_as_the_pages(api, cast, monkeypatch) -> None:
    integration, _ = make(AM)
    calls = []
    original = services._check_config

    def spy(**kw: Any) -> Any:
        calls.append(kw)
        return original(**kw)

    monkeypatch.setattr(services, "_check_config", spy)
    rules = [{"match": {"labels.team": "~pay.*"}, "services": ["api"], "impact": "major_outage", "action": "declare"}]
    response = api.as_(cast.owner).patch(f"/api/v1/integrations/{integration.pk}/", {"routing_rules": rules,
                                         "severity_mapping": {"field": "labels.severity", "map": {"page": "SEV2"}}}, format="json")  # fmt: skip
    assert response.status_code == 200, response.content
    assert calls and calls[-1]["routing_rules"] == rules
    integration.refresh_from_db()
    assert integration.routing_rules == rules
    assert integration.severity_mapping["map"] == {"page": Severity.objects.get(name="SEV2").pk}
    bad = api.as_(cast.owner).patch(f"/api/v1/integrations/{integration.pk}/", {"severity_mapping": {"map": {"x": "NOPE"}}}, format="json")
    assert "severity_mapping" in assert_error(bad, 400, "validation_failed")["fields"]
    integration.refresh_from_db()
    assert integration.severity_mapping["map"] == {"page": Severity.objects.get(name="SEV2").pk}  # nothing lost
    assert_error(api.as_(cast.owner).patch(f"/api/v1/integrations/{integration.pk}/", {}, format="json"), 400)


def test_disable_refuses_senders_and_enable_lets_them_in(api, cast, client) -> None:
    integration, token = make(AM)
    url = f"/integrations/alertmanager/{token}/"
    payload = fixture_json("alertmanager", "firing.json")
    assert api.as_(cast.owner).post(f"/api/v1/integrations/{integration.pk}/disable/").json()["enabled"] is False
    assert post_json(client, url, payload).status_code == 403
    assert api.as_(cast.owner).post(f"/api/v1/integrations/{integration.pk}/enable/").json()["enabled"] is True
    assert post_json(client, url, payload).status_code == 202


def test_rotate_gives_a_new_secret_once_and_the_old_one_stops_working(api, cast, client) -> None:
    integration, old = make(AM)
    body = api.as_(cast.owner).post(f"/api/v1/integrations/{integration.pk}/rotate/").json()
    new = body["secret"]
    assert new != old and len(new) == 32 and new in body["url"]
    payload = fixture_json("alertmanager", "firing.json")
    assert post_json(client, f"/integrations/alertmanager/{old}/", payload).status_code == 401
    assert post_json(client, f"/integrations/alertmanager/{new}/", payload).status_code == 202


@pytest.mark.parametrize("kind", [AM, PD, IntegrationKind.GENERIC_JSON])
def test_a_sample_is_stored_and_processed_like_a_real_delivery(api, cast, kind) -> None:
    integration, _ = make(kind)
    response = api.as_(cast.owner).post(f"/api/v1/integrations/{integration.pk}/sample/")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert process_pending() == ["processed"]
    assert Alert.objects.get().title.startswith("Sample")


def test_a_failed_delivery_is_retried_once_and_a_processed_one_is_a_409(api, cast) -> None:
    integration, _ = make(AM)
    delivery = receive.delivery_store(integration=integration, body=json.dumps(fixture_json("alertmanager", "firing.json")), headers={})
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempts=8, error="boom")
    url = f"/api/v1/integrations/{integration.pk}/deliveries/{delivery.pk}/retry/"
    response = api.as_(cast.owner).post(url)
    assert response.status_code == 202 and response.json()["status"] == "pending" and response.json()["attempts"] == 0
    assert process_pending() == ["processed"]
    assert_error(api.as_(cast.owner).post(url), 409, "conflict")
    other, _ = make(AM, name="other")
    assert_error(api.as_(cast.owner).post(f"/api/v1/integrations/{other.pk}/deliveries/{delivery.pk}/retry/"), 404)


def alert_with_secret(client) -> Alert:
    integration, token = make(PD)
    event = fixture_json("pagerduty", "events_v2_script_trigger.json") | {"routing_key": token}
    event["payload"]["custom_details"]["api_token"] = "tok-very-secret"
    post_json(client, "/integrations/pagerduty/v2/enqueue", event)
    process_pending()
    return Alert.objects.get()


def test_alert_detail_has_history_and_redacted_payloads(api, cast, client) -> None:
    alert = alert_with_secret(client)
    body = api.as_(cast.viewer).get(f"/api/v1/alerts/{alert.pk}/").json()
    assert alert.incident is not None
    assert body["fingerprint"] == "disk-var-db-3" and body["incident"] == alert.incident.reference
    assert [e["status"] for e in body["history"]] == ["firing"]
    text = json.dumps(body)
    assert "tok-very-secret" not in text and alert.integration.token_hint not in json.dumps(body["deliveries"])
    payload = body["deliveries"][0]["payload"]
    assert payload["routing_key"] == "[redacted]" and payload["payload"]["custom_details"]["api_token"] == "[redacted]"
    assert_error(api.as_(cast.viewer).get("/api/v1/alerts/999999/"), 404, "not_found")
    assert_error(api.as_(cast.viewer).get("/api/v1/alerts/abc/"), 404)


def test_alert_list_filters(api, cast, client) -> None:
    alert = alert_with_secret(client)
    reader = api.as_(cast.responder)
    assert alert.incident is not None
    assert [a["id"] for a in reader.get("/api/v1/alerts/").json()["results"]] == [alert.pk]
    for query, expected in [("status=open", [alert.pk]), ("status=resolved", []), (f"integration={alert.integration_id}", [alert.pk]),
                            ("integration=999", []), ("severity=warning", [alert.pk]), ("severity=critical", []),
                            (f"incident={alert.incident.reference}", [alert.pk]), ("q=Disk", [alert.pk]), ("q=nothing", [])]:  # fmt: skip
        assert [a["id"] for a in reader.get(f"/api/v1/alerts/?{query}").json()["results"]] == expected, query
    error = assert_error(reader.get("/api/v1/alerts/?status=burning&integration=x&incident=INC-y"), 400, "validation_failed")
    assert set(error["fields"]) == {"status", "integration", "incident"}


def test_the_role_matrix(api, cast) -> None:
    integration, _ = make(AM)
    base = f"/api/v1/integrations/{integration.pk}/"
    configure = [("post", "/api/v1/integrations/", {"kind": AM, "name": "n"}), ("patch", base, {"name": "m"}), ("post", base + "enable/", None),
                 ("post", base + "disable/", None), ("post", base + "rotate/", None), ("post", base + "sample/", None)]  # fmt: skip
    reads = [("get", "/api/v1/integrations/", None), ("get", base, None), ("get", base + "deliveries/", None)]
    for user in (cast.responder, cast.viewer):
        for method, url, data in configure + reads:
            assert_error(getattr(api.as_(user), method)(url, data, format="json"), 403, "permission_denied")
        assert api.as_(user).get("/api/v1/alerts/").status_code == 200
    for method, url, data in configure + reads:
        assert getattr(api.as_(cast.owner), method)(url, data, format="json").status_code in (200, 201, 202), url
    assert_error(api.as_(None).get("/api/v1/alerts/"), 401)
    assert_error(api.as_(cast.outsider).get("/api/v1/alerts/"), 403)  # an inactive account has no role
    # A read-only token refuses writes whatever its owner's role.
    _, raw = ApiToken.issue(user=cast.owner, name="ro", scope=TokenScope.READ)
    from rest_framework.test import APIClient

    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert token_client.get(base).status_code == 200
    assert_error(token_client.post(base + "rotate/"), 403)
