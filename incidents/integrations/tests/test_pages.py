from __future__ import annotations

import pytest
from django.test import Client

from incidents.integrations.tests.helpers import fixture, make, process_pending, store
from incidents.models import (
    Alert,
    AlertGroup,
    AlertStatus,
    Delivery,
    Incident,
    IncidentStatus,
    Integration,
    IntegrationKind,
)

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_manager_creates_an_integration_and_sees_its_secret_once(cast) -> None:
    client = signed_in(cast.owner)
    response = client.post("/integrations/", {
        "kind": "alertmanager", "name": "Prod Alertmanager", "rate_limit_per_minute": 600, "default_action": "declare",
        "resolve_policy": "monitoring", "reopen_minutes": 15,
        "routing_rules": '[{"match": {"labels.service": "api"}, "services": ["api"], "impact": "major_outage"}]',
        "severity_mapping": '{"field": "labels.severity", "map": {"critical": "SEV1"}, "default": "SEV3"}', "group_by": "",
    })  # fmt: skip
    integration = Integration.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/integrations/{integration.pk}/"
    page = client.get(response["Location"]).content.decode()
    token = page.split('id="integration-token">')[1].split("<")[0]
    assert integration.matches_token(token)
    assert f"/integrations/alertmanager/{token}/" in page
    again = client.get(f"/integrations/{integration.pk}/").content.decode()
    assert token not in again and "integration-token" not in again


def test_a_bad_configuration_is_shown_on_the_form(cast) -> None:
    client = signed_in(cast.owner)
    response = client.post("/integrations/", {
        "kind": "alertmanager", "name": "x", "rate_limit_per_minute": 1, "default_action": "declare", "resolve_policy": "resolve",
        "reopen_minutes": 0, "routing_rules": '[{"match": {}, "services": ["no-such-service"]}]', "severity_mapping": "{oops",
    })  # fmt: skip
    assert response.status_code == 400
    body = response.content.decode()
    assert "Not valid JSON" in body
    assert not Integration.objects.exists()


def test_rotating_the_secret_invalidates_the_old_one(cast) -> None:
    integration, old = make(IntegrationKind.ALERTMANAGER)
    client = signed_in(cast.owner)
    client.post(f"/integrations/{integration.pk}/rotate/")
    page = client.get(f"/integrations/{integration.pk}/").content.decode()
    new = page.split('id="integration-token">')[1].split("<")[0]
    integration.refresh_from_db()
    assert new != old and integration.matches_token(new) and not integration.matches_token(old)
    anonymous = Client()
    assert anonymous.post(f"/integrations/alertmanager/{old}/", fixture("alertmanager", "firing.json"), content_type="application/json").status_code == 401
    assert anonymous.post(f"/integrations/alertmanager/{new}/", fixture("alertmanager", "firing.json"), content_type="application/json").status_code == 202


@pytest.mark.parametrize("kind", IntegrationKind.values)
def test_send_a_sample_stores_a_delivery_that_processes(cast, kind) -> None:
    options = {"signing_secret": "s3cret"} if kind == IntegrationKind.PAGERDUTY_WEBHOOK_V3 else {}
    integration, _ = make(kind, **options)
    client = signed_in(cast.owner)
    assert client.post(f"/integrations/{integration.pk}/sample/").status_code == 302
    assert process_pending() == ["processed"]
    assert Alert.objects.filter(integration=integration).count() == 1
    page = client.get(f"/integrations/{integration.pk}/").content.decode()
    assert "Processed" in page


@pytest.mark.parametrize("kind", IntegrationKind.values)
def test_a_sample_is_a_test_that_never_pages_and_resolves_itself(cast, kind) -> None:
    options = {"signing_secret": "s3cret"} if kind == IntegrationKind.PAGERDUTY_WEBHOOK_V3 else {}
    integration, _ = make(kind, default_action="declare", **options)
    client = signed_in(cast.owner)
    client.post(f"/integrations/{integration.pk}/sample/")
    assert Delivery.objects.get(integration=integration).is_test
    assert process_pending() == ["processed"]
    incident = Incident.objects.get()
    assert incident.title.startswith("Test: ") and list(incident.tags.values_list("name", flat=True)) == ["test"]
    assert not incident.severity.pages and incident.visibility == "internal"
    assert incident.status == IncidentStatus.RESOLVED
    assert not AlertGroup.objects.filter(integration=integration, is_open=True).exists()
    assert Alert.objects.get(integration=integration).status == AlertStatus.RESOLVED
    assert not Incident.objects.open().exists()
    assert "Test sample" in client.get(f"/integrations/{integration.pk}/").content.decode()


def test_failed_deliveries_show_their_error_and_can_be_retried(cast) -> None:
    integration, _ = make(IntegrationKind.ALERTMANAGER)
    delivery = store(integration, '{"version": "4"')
    process_pending()
    client = signed_in(cast.owner)
    page = client.get(f"/integrations/{integration.pk}/").content.decode()
    assert "Failed" in page and "not valid JSON" in page
    assert client.post(f"/integrations/{integration.pk}/deliveries/{delivery.pk}/retry/").status_code == 302
    assert Delivery.objects.get().status == "pending"


def test_responders_read_alerts_but_do_not_configure(cast) -> None:
    integration, _ = make(IntegrationKind.ALERTMANAGER)
    store(integration, fixture("alertmanager", "firing.json"))
    process_pending()
    responder = signed_in(cast.responder)
    assert responder.get("/integrations/").status_code == 403
    assert responder.post(f"/integrations/{integration.pk}/rotate/").status_code == 403
    listing = responder.get("/integrations/alerts/?status=firing&q=api-1")
    assert listing.status_code == 200
    assert "5xx rate above 5% on api-1" in listing.content.decode()
    assert "api-2" not in listing.content.decode()
    alert = Alert.objects.get(fingerprint="1ebb5ee975369fdb")
    detail = responder.get(f"/integrations/alerts/{alert.pk}/").content.decode()
    assert "1ebb5ee975369fdb" in detail and "&quot;groupKey&quot;" in detail  # the raw payload, escaped
    assert signed_in(cast.viewer).get("/integrations/alerts/").status_code == 403
    assert Client().get("/integrations/alerts/").status_code == 302  # to the login page


def test_the_alert_list_partial_for_htmx(cast) -> None:
    responder = signed_in(cast.responder)
    response = responder.get("/integrations/alerts/?status=all&integration=abc", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<html" not in response.content.decode()


def test_the_war_room_and_the_dashboard_show_the_alerts(cast) -> None:
    integration, _ = make(IntegrationKind.ALERTMANAGER)
    store(integration, fixture("alertmanager", "firing.json"))
    process_pending()
    alert = Alert.objects.get(fingerprint="1ebb5ee975369fdb")
    responder = signed_in(cast.responder)
    war_room = responder.get(f"/incidents/INC-{alert.incident_id}/").content.decode()
    assert 'id="incident-alerts"' in war_room
    assert f'href="/integrations/alerts/{alert.pk}/"' in war_room
    dashboard = responder.get("/").content.decode()
    assert "5xx rate above 5% on api-1" in dashboard
