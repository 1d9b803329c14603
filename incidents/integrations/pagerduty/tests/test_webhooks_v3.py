from __future__ import annotations

import hmac
import itertools

import pytest

from incidents.integrations.pagerduty import webhooks_v3
from incidents.integrations.tests.helpers import fixture, make, post_json, process_pending, store
from incidents.models import Alert, Delivery, DeliveryStatus, Incident, IncidentStatus, IntegrationKind

V3 = IntegrationKind.PAGERDUTY_WEBHOOK_V3
SECRET = "ChangeMe-subscription-secret-1234567890"
pytestmark = pytest.mark.django_db


def url(token: str) -> str:
    return f"/integrations/pagerduty/v3/{token}/"


def send(client, token: str, name: str, *, secret: str = SECRET, webhook_id: str | None = None, signature: str | None = None):
    body = fixture("pagerduty", name)
    headers = {"HTTP_X_PAGERDUTY_SIGNATURE": signature if signature is not None else webhooks_v3.sign(body.encode(), secret)}
    headers["HTTP_X_WEBHOOK_ID"] = webhook_id or f"wh-{name}"
    return post_json(client, url(token), body, **headers)


def mapping() -> dict:
    return {"field": "priority", "map": {"P1": "SEV1", "P2": "SEV2"}, "default": "SEV3"}


def test_signature_accepts_any_of_several_v1_values() -> None:
    body = b'{"event": {}}'
    good = webhooks_v3.sign(body, SECRET)
    assert webhooks_v3.signature_valid(body, f"v1=deadbeef,{good}", [SECRET])
    assert webhooks_v3.signature_valid(body, f"{good}, v1=00", [SECRET])
    assert not webhooks_v3.signature_valid(body, "v1=deadbeef,v1=00", [SECRET])
    assert not webhooks_v3.signature_valid(body, good.replace("v1=", "v0="), [SECRET])
    assert not webhooks_v3.signature_valid(body + b" ", good, [SECRET])
    assert not webhooks_v3.signature_valid(body, "", [SECRET])


def test_signature_comparison_is_constant_time(monkeypatch) -> None:
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(webhooks_v3.hmac, "compare_digest", spy)
    body = b"{}"
    assert webhooks_v3.signature_valid(body, f"v1=aa,{webhooks_v3.sign(body, SECRET)},v1=bb", [SECRET])
    assert len(calls) == 3  # every candidate compared, no early exit


def test_unsigned_or_wrongly_signed_deliveries_are_refused(client) -> None:
    integration, token = make(V3, signing_secret=SECRET)
    response = send(client, token, "v3_incident_triggered.json", signature="")
    assert response.status_code == 401 and response.json()["error"]["code"] == "signature_missing"
    response = send(client, token, "v3_incident_triggered.json", secret="another-secret")
    assert response.status_code == 401 and response.json()["error"]["code"] == "signature_invalid"
    assert not Delivery.objects.exists()


def test_a_redelivered_webhook_id_is_kept_but_not_processed_again(client) -> None:
    integration, token = make(V3, signing_secret=SECRET)
    assert send(client, token, "v3_incident_triggered.json", webhook_id="w-1").status_code == 202
    assert send(client, token, "v3_incident_triggered.json", webhook_id="w-1").status_code == 202
    assert list(Delivery.objects.order_by("id").values_list("status", flat=True)) == ["pending", "duplicate"]
    process_pending()
    assert Incident.objects.count() == 1


def test_pagerduty_incident_lifecycle_is_mirrored(client) -> None:
    integration, token = make(V3, signing_secret=SECRET, severity_mapping=mapping())
    send(client, token, "v3_incident_triggered.json")
    process_pending()
    incident = Incident.objects.get()
    assert incident.title == "Checkout latency p99 above 2s"
    assert incident.severity.name == "SEV2"
    for name in ("v3_incident_acknowledged.json", "v3_incident_priority_updated.json", "v3_incident_annotated.json"):
        assert send(client, token, name).status_code == 202
    process_pending()
    incident.refresh_from_db()
    assert incident.severity.name == "SEV1"
    bodies = list(incident.timeline.order_by("id").values_list("kind", "body"))
    assert ("alert", "Alert acknowledged at the source: Checkout latency p99 above 2s") in bodies
    assert any(body.endswith("Rolled back release 2024.05.01-3; watching p99.") for _, body in bodies)
    assert Alert.objects.get().status == "acknowledged"
    send(client, token, "v3_incident_resolved.json")
    process_pending()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    send(client, token, "v3_incident_reopened.json")
    process_pending()
    incident.refresh_from_db()
    assert Incident.objects.count() == 1  # reopened in PagerDuty: the same portal incident reopens
    assert incident.status == IncidentStatus.INVESTIGATING


NAMES = ["v3_incident_triggered.json", "v3_incident_acknowledged.json", "v3_incident_annotated.json", "v3_incident_resolved.json"]


@pytest.mark.parametrize("order", list(itertools.permutations(NAMES))[::5])
def test_v3_events_in_any_order_twice_end_in_the_same_state(order) -> None:
    integration, _ = make(V3, signing_secret=SECRET)
    for name in [*order, *order]:
        store(integration, fixture("pagerduty", name))
    process_pending()
    assert Alert.objects.get().status == "resolved"
    assert not Incident.objects.exclude(status=IncidentStatus.RESOLVED).exists()
    if Incident.objects.exists():  # the trigger came first: opened then resolved
        incident = Incident.objects.get()
        assert incident.timeline.filter(kind="alert", body__startswith="Alert firing").count() == 1
        assert incident.timeline.filter(body__contains="Rolled back").count() <= 1


def test_other_event_types_are_accepted_and_ignored(client) -> None:
    integration, token = make(V3, signing_secret=SECRET)
    body = '{"event": {"id": "01X", "event_type": "service.updated", "resource_type": "service", "occurred_at": "2024-05-01T10:00:00Z", "data": {"id": "PSVC"}}}'
    response = post_json(client, url(token), body, HTTP_X_PAGERDUTY_SIGNATURE=webhooks_v3.sign(body.encode(), SECRET))
    assert response.status_code == 202
    assert process_pending() == ["processed"]
    assert Delivery.objects.get().status == DeliveryStatus.PROCESSED
    assert not Alert.objects.exists()


def test_a_v3_integration_needs_its_signing_secret() -> None:
    from portal.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        make(V3)
