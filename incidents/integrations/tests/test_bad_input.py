"""Input that used to be accepted (202) and then fail on every retry: NUL, lone
surrogates, offsets PostgreSQL refuses, one bad alert in a group. Each is either
refused with a clear 400 or stored cleanly, and one bad alert never takes its
neighbours down. Run on PostgreSQL too: NUL and +23:59 only fail there."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.test import Client

from incidents.integrations import services
from incidents.integrations.pipeline import apply, process, receive, settle
from incidents.integrations.tests.helpers import fixture_json, make, post_json, process_pending
from incidents.models import Alert, Delivery, DeliveryStatus, Incident, IntegrationKind, TimelineEvent

AM = IntegrationKind.ALERTMANAGER
GENERIC = IntegrationKind.GENERIC_JSON
pytestmark = pytest.mark.django_db


def firing() -> dict:
    return fixture_json("alertmanager", "firing.json")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_nul_in_title_labels_fingerprint_and_group_key_is_stored_cleanly(client) -> None:
    integration, token = make(AM)
    payload = firing()
    first = payload["alerts"][0]
    first["fingerprint"] = "1ebb5ee9\u000075369fdb"
    first["labels"]["team\u0000"] = "pay\u0000ments"
    first["annotations"]["summary"] = "5xx\u0000 rate above 5% on api-1"
    payload["groupKey"] = '{}:{alertname="High\u0000ErrorRate"}'
    assert post_json(client, f"/integrations/alertmanager/{token}/", payload).status_code == 202
    assert process_pending() == ["processed"]
    alert = Alert.objects.get(fingerprint="1ebb5ee975369fdb")
    assert alert.title == "5xx rate above 5% on api-1"
    assert alert.labels["team"] == "payments"
    assert alert.group_key == '{}:{alertname="HighErrorRate"}'
    assert Incident.objects.get().title == "5xx rate above 5% on api-1"
    assert "\x00" not in json.dumps(list(TimelineEvent.objects.values_list("details", flat=True)))


def test_a_lone_surrogate_is_stored_as_a_replacement_character(client) -> None:
    _integration, token = make(GENERIC)
    # As a sender writes it: a JSON escape of half a surrogate pair.
    body = '{"fingerprint": "fp-\\ud800", "title": "Disk \\ud800 full", "labels": {"host\\udc00": "db\\ud800"}}'
    assert post_json(client, f"/integrations/generic/{token}/", body).status_code == 202
    assert process_pending() == ["processed"]
    alert = Alert.objects.get()
    assert (alert.fingerprint, alert.title, alert.labels) == ("fp-\ufffd", "Disk \ufffd full", {"host\ufffd": "db\ufffd"})
    assert Incident.objects.get().title == "Disk \ufffd full"


def test_an_rfc3339_offset_postgresql_refuses_is_stored_in_utc(client) -> None:
    integration, token = make(AM)
    payload = firing()
    payload["alerts"][0]["startsAt"] = "2024-05-01T10:00:00+23:59"
    payload["alerts"][1]["startsAt"] = "2024-05-01T10:00:00-23:59"
    assert post_json(client, f"/integrations/alertmanager/{token}/", payload).status_code == 202
    assert process_pending() == ["processed"]
    starts = dict(Alert.objects.values_list("fingerprint", "starts_at"))
    assert starts["1ebb5ee975369fdb"] == datetime(2024, 4, 30, 10, 1, tzinfo=UTC)
    assert starts["0ae724614918f1c2"] == datetime(2024, 5, 2, 9, 59, tzinfo=UTC)


def test_an_offset_that_leaves_the_calendar_is_a_clear_400(client) -> None:
    _integration, token = make(GENERIC)
    body = {"fingerprint": "x", "title": "X", "occurred_at": "9999-12-31T23:59:59-23:59"}
    response = post_json(client, f"/integrations/generic/{token}/", body)
    assert response.status_code == 400
    assert "occurred_at" in json.dumps(response.json())
    assert not Delivery.objects.exists()


def test_one_bad_alert_in_a_group_does_not_take_its_neighbours_down(client, cast) -> None:
    integration, token = make(AM)
    payload = firing()
    payload["alerts"][1]["startsAt"] = "0001-01-01T00:00:00Z"  # firing, with Go's zero time: nothing to order it by
    payload["alerts"].append({"status": "weird", "labels": {"alertname": "X"}, "startsAt": "2024-05-01T10:00:00Z"})
    response = post_json(client, f"/integrations/alertmanager/{token}/", payload)
    assert response.status_code == 202
    skipped = response.json()["skipped"]
    assert any("alerts[1].startsAt" in error for error in skipped) and any("alerts[2].status" in error for error in skipped)
    assert process_pending() == ["processed"]
    assert list(Alert.objects.values_list("fingerprint", flat=True)) == ["1ebb5ee975369fdb"]
    assert Incident.objects.count() == 1
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PROCESSED
    assert "alerts[1].startsAt" in delivery.error and "alerts[2].status" in delivery.error
    page = signed_in(cast.owner).get(f"/integrations/{integration.pk}/").content.decode()
    assert "alerts[2].status" in page


def test_a_group_whose_every_alert_is_bad_is_refused_with_each_reason(client) -> None:
    _integration, token = make(AM)
    payload = firing()
    for alert in payload["alerts"]:
        alert["status"] = "weird"
    response = post_json(client, f"/integrations/alertmanager/{token}/", payload)
    assert response.status_code == 400
    errors = response.json()["error"]["fields"]["payload"]
    assert any("alerts[0].status" in e for e in errors) and any("alerts[1].status" in e for e in errors)
    assert not Delivery.objects.exists()


def test_an_alert_that_fails_to_apply_is_recorded_and_retried_while_its_neighbours_are_applied(monkeypatch, cast) -> None:
    integration, _token = make(AM)
    delivery = receive.delivery_store(integration=integration, body=json.dumps(firing()), headers={})
    apply_group = apply.apply_group

    def fails_for_one_alert(integration, delivery, group_key, signals):
        if any(signal.fingerprint == "0ae724614918f1c2" for signal in signals):
            raise RuntimeError("could not write alert 0ae724614918f1c2")
        return apply_group(integration, delivery, group_key, signals)

    monkeypatch.setattr(apply, "apply_group", fails_for_one_alert)
    with pytest.raises(settle.AlertsFailed):
        process.delivery_process(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert "0ae724614918f1c2" in delivery.error and "could not write" in delivery.error
    assert list(Alert.objects.values_list("fingerprint", flat=True)) == ["1ebb5ee975369fdb"]
    incident = Incident.objects.get()
    # Retried to the cap: failed, visible with its error; the applied alert is not applied twice.
    Delivery.objects.filter(pk=delivery.pk).update(attempts=settle.MAX_ATTEMPTS - 1)
    assert process.delivery_process(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and "could not write" in delivery.error
    assert Incident.objects.get().pk == incident.pk
    assert TimelineEvent.objects.filter(incident=incident, kind="alert").count() == 1
    api = signed_in(cast.owner).get(f"/api/v1/integrations/{integration.pk}/deliveries/?status=failed").json()
    assert [(d["id"], d["status"]) for d in api["results"]] == [(delivery.pk, "failed")]
    assert "could not write" in api["results"][0]["error"]
    # Once the cause is gone, a manager's retry applies the rest.
    monkeypatch.undo()
    assert services.delivery_retry(delivery=delivery, by=cast.owner)
    assert process_pending() == ["processed"]
    assert Alert.objects.filter(incident=incident).count() == 2


def test_the_deliveries_api_is_for_managers_and_refuses_an_unknown_status(cast) -> None:
    integration, _token = make(AM)
    receive.delivery_store(integration=integration, body=json.dumps(firing()), headers={})
    assert signed_in(cast.responder).get(f"/api/v1/integrations/{integration.pk}/deliveries/").status_code == 403
    response = signed_in(cast.owner).get(f"/api/v1/integrations/{integration.pk}/deliveries/?status=nope")
    assert response.status_code == 400 and "status" in response.json()["error"]["fields"]
    listed = signed_in(cast.owner).get("/api/v1/integrations/").json()
    assert [(i["id"], i["failed_deliveries"]) for i in listed] == [(integration.pk, 0)]
    assert signed_in(cast.owner).get("/api/v1/integrations/999999/deliveries/").status_code == 404


def test_a_pagerduty_v3_event_id_with_nul_is_stored(client) -> None:
    from incidents.integrations.pagerduty.webhooks_v3 import sign

    secret = "s3cret-for-tests"
    _integration, token = make(IntegrationKind.PAGERDUTY_WEBHOOK_V3, signing_secret=secret)
    payload = fixture_json("pagerduty", "v3_incident_triggered.json")
    payload["event"]["id"] = "01DEN\u00002QDJD8LGIN8O5OQ6MHJD"
    payload["event"]["data"]["title"] = "Title with\u0000 NUL"
    body = json.dumps(payload).encode()
    response = client.post(f"/integrations/pagerduty/v3/{token}/", data=body, content_type="application/json",
                           HTTP_X_PAGERDUTY_SIGNATURE=sign(body, secret))  # fmt: skip
    assert response.status_code == 202
    assert process_pending() == ["processed"]
    assert Delivery.objects.get().external_id == "01DEN2QDJD8LGIN8O5OQ6MHJD"
    assert Alert.objects.get().title == "Title with NUL"


def test_a_pagerduty_dedup_key_of_only_nul_gets_a_key_assigned(client) -> None:
    _integration, routing_key = make(IntegrationKind.PAGERDUTY_EVENTS_V2)
    event = fixture_json("pagerduty", "events_v2_script_trigger.json")
    event.update(routing_key=routing_key, dedup_key="\u0000")
    response = post_json(client, "/integrations/pagerduty/v2/enqueue", event)
    assert response.status_code == 202
    assigned = response.json()["dedup_key"]
    assert len(assigned) == 32
    assert process_pending() == ["processed"]
    assert Alert.objects.get().fingerprint == assigned
    resolve = {"routing_key": routing_key, "event_action": "resolve", "dedup_key": "\u0000\u0001"}
    refused = post_json(client, "/integrations/pagerduty/v2/enqueue", resolve)
    assert refused.status_code == 400 and "'dedup_key' is missing or blank" in refused.json()["errors"]
