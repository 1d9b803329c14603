from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents.integrations.pipeline import process, receive
from incidents.integrations.pipeline.receive import MAX_PAYLOAD
from incidents.integrations.tests.helpers import (
    alert_events,
    basic,
    bearer,
    fixture,
    fixture_json,
    make,
    post_json,
    process_pending,
    store,
)
from incidents.models import (
    Alert,
    AlertGroup,
    Delivery,
    DeliveryStatus,
    Incident,
    IncidentStatus,
    IntegrationKind,
    ResolvePolicy,
)

AM = IntegrationKind.ALERTMANAGER
pytestmark = pytest.mark.django_db


def url(token: str = "") -> str:
    return f"/integrations/alertmanager/{token}/" if token else "/integrations/alertmanager/"


def refire(payload: dict, starts_at: str) -> dict:
    again = copy.deepcopy(payload)
    for alert in again["alerts"]:
        alert["startsAt"] = starts_at
    return again


def test_a_firing_group_opens_one_incident_with_one_timeline_event_per_alert(client) -> None:
    integration, token = make(AM)
    response = post_json(client, url(token), fixture("alertmanager", "firing.json"))
    assert response.status_code == 202
    assert Delivery.objects.get().status == DeliveryStatus.PENDING
    assert process_pending() == ["processed"]
    incident = Incident.objects.get()
    assert incident.title == "5xx rate above 5% on api-1"
    assert incident.severity.name == "SEV1"  # labels.severity critical by default
    alerts = Alert.objects.filter(integration=integration)
    assert {a.fingerprint for a in alerts} == {"1ebb5ee975369fdb", "0ae724614918f1c2"}
    assert {a.incident_id for a in alerts} == {incident.pk}
    assert len(alert_events(incident)) == 2
    assert AlertGroup.objects.get().group_key == '{}:{alertname="HighErrorRate"}'


def test_repeats_of_a_firing_alert_add_nothing(client) -> None:
    integration, token = make(AM)
    for _ in range(3):
        assert post_json(client, url(token), fixture("alertmanager", "firing.json")).status_code == 202
    assert process_pending() == ["processed"] * 3
    incident = Incident.objects.get()
    assert len(alert_events(incident)) == 2
    assert incident.timeline.count() == 3  # declared + two alerts
    assert Delivery.objects.filter(status=DeliveryStatus.PROCESSED).count() == 3


def test_when_every_alert_resolves_the_incident_resolves_by_default(client) -> None:
    integration, token = make(AM)
    post_json(client, url(token), fixture("alertmanager", "firing.json"))
    post_json(client, url(token), fixture("alertmanager", "resolved.json"))
    process_pending()
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.RESOLVED
    assert set(Alert.objects.values_list("status", flat=True)) == {"resolved"}
    assert not AlertGroup.objects.filter(is_open=True).exists()
    change = incident.timeline.get(kind="status_change")
    assert change.body == "Every alert of the group has resolved."


def test_the_monitoring_policy_moves_to_monitoring_and_a_new_firing_goes_back(client) -> None:
    integration, token = make(AM, resolve_policy=ResolvePolicy.MONITORING)
    firing = fixture_json("alertmanager", "firing.json")
    post_json(client, url(token), firing)
    post_json(client, url(token), fixture("alertmanager", "resolved.json"))
    process_pending()
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.MONITORING
    post_json(client, url(token), refire(firing, "2030-01-01T00:00:00Z"))
    process_pending()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING
    assert Incident.objects.count() == 1
    assert len(alert_events(incident)) == 4


def test_one_resolved_alert_of_two_leaves_the_incident_open(client) -> None:
    integration, token = make(AM)
    post_json(client, url(token), fixture("alertmanager", "firing.json"))
    half = fixture_json("alertmanager", "resolved.json")
    half["alerts"] = half["alerts"][:1]
    post_json(client, url(token), half)
    process_pending()
    assert Incident.objects.get().status == IncidentStatus.INVESTIGATING
    assert Alert.objects.get(fingerprint="1ebb5ee975369fdb").status == "resolved"
    assert Alert.objects.get(fingerprint="0ae724614918f1c2").status == "firing"


def test_a_trigger_after_resolution_opens_a_new_incident_outside_the_window(client) -> None:
    integration, token = make(AM, reopen_window=timedelta(0))
    firing = fixture_json("alertmanager", "firing.json")
    for body in (firing, fixture_json("alertmanager", "resolved.json"), refire(firing, "2030-01-01T00:00:00Z")):
        post_json(client, url(token), body)
    process_pending()
    first, second = Incident.objects.order_by("id")
    assert first.status == IncidentStatus.RESOLVED
    assert second.status == IncidentStatus.INVESTIGATING
    assert set(Alert.objects.values_list("incident_id", flat=True)) == {second.pk}


def test_a_trigger_within_the_reopen_window_reopens_the_last_incident(client) -> None:
    integration, token = make(AM, reopen_window=timedelta(hours=1))
    firing = fixture_json("alertmanager", "firing.json")
    for body in (firing, fixture_json("alertmanager", "resolved.json"), refire(firing, "2030-01-01T00:00:00Z")):
        post_json(client, url(token), body)
    process_pending()
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.INVESTIGATING
    reopen = incident.timeline.filter(kind="status_change").order_by("id").last()
    assert reopen is not None
    assert reopen.details["reopened"] is True


ORDERS = list(itertools.permutations(["firing", "resolved", "refire"]))


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_any_order_and_any_replay_ends_in_the_same_state(order) -> None:
    integration, _ = make(AM, reopen_window=timedelta(hours=1))
    firing = fixture_json("alertmanager", "firing.json")
    bodies = {"firing": firing, "resolved": fixture_json("alertmanager", "resolved.json"),
              "refire": refire(firing, "2030-01-01T00:00:00Z")}  # fmt: skip
    for name in [*order, *order]:  # every notification twice
        store(integration, bodies[name])
    process_pending()
    # The latest transition wins: the alerts fire again (new startsAt after the resolution).
    assert set(Alert.objects.values_list("status", flat=True)) == {"firing"}
    assert AlertGroup.objects.filter(is_open=True).count() == 1
    open_incident = Incident.objects.exclude(status=IncidentStatus.RESOLVED).get()
    assert set(Alert.objects.values_list("incident_id", flat=True)) == {open_incident.pk}


def test_a_stale_firing_after_its_resolution_is_ignored() -> None:
    integration, _ = make(AM)
    store(integration, fixture("alertmanager", "resolved.json"))
    store(integration, fixture("alertmanager", "firing.json"))
    process_pending()
    assert not Incident.objects.exists()
    assert set(Alert.objects.values_list("status", flat=True)) == {"resolved"}


def test_processing_a_delivery_twice_is_harmless() -> None:
    integration, _ = make(AM)
    delivery = store(integration, fixture("alertmanager", "firing.json"))
    assert process.delivery_process(delivery_id=delivery.pk) == "processed"
    assert process.delivery_process(delivery_id=delivery.pk) == "skipped"
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.PENDING)  # as if redelivered by the sweeper
    assert process.delivery_process(delivery_id=delivery.pk) == "processed"
    assert Incident.objects.count() == 1
    assert len(alert_events(Incident.objects.get())) == 2


def test_grouping_by_configured_labels(client) -> None:
    integration, token = make(AM, group_by=["instance"])
    post_json(client, url(token), fixture("alertmanager", "firing.json"))
    process_pending()
    assert Incident.objects.count() == 2  # one per instance


def test_routing_rules_pick_services_severity_and_record_only(client, cast) -> None:
    rules = [
        {"match": {"labels.job": "batch"}, "action": "record"},
        {"match": {"labels.service": "~ap.*"}, "services": ["api"], "impact": "major_outage"},
    ]
    integration, token = make(AM, routing_rules=rules, severity_mapping={"field": "labels.severity", "map": {"critical": "SEV2"}})
    post_json(client, url(token), fixture("alertmanager", "firing.json"))
    batch = fixture_json("alertmanager", "firing.json")
    batch["groupKey"] = "batch"
    for alert in batch["alerts"]:
        alert["labels"]["job"] = "batch"
        alert["fingerprint"] += "b"
    post_json(client, url(token), batch)
    process_pending()
    incident = Incident.objects.get()
    assert incident.severity.name == "SEV2"
    assert list(incident.impacts.values_list("service__slug", "impact")) == [("api", "major_outage")]
    assert Alert.objects.count() == 4
    assert Alert.objects.filter(incident__isnull=True).count() == 2  # recorded only


@pytest.mark.parametrize("how", ["url", "bearer", "basic"])
def test_the_token_is_accepted_in_the_url_as_bearer_or_as_basic_password(client, how) -> None:
    integration, token = make(AM)
    body = fixture("alertmanager", "firing.json")
    if how == "url":
        response = post_json(client, url(token), body)
    elif how == "bearer":
        response = post_json(client, url(), body, **bearer(token))
    else:
        response = post_json(client, url(), body, **basic("alertmanager", token))
    assert response.status_code == 202
    assert "authorization" not in Delivery.objects.get().headers


def test_a_wrong_or_missing_token_is_refused(client) -> None:
    make(AM)
    body = fixture("alertmanager", "firing.json")
    assert post_json(client, url("0" * 32), body).status_code == 401
    assert post_json(client, url(), body).status_code == 401
    assert post_json(client, url(), body, **bearer("nope")).json()["error"]["code"] == "not_authenticated"
    assert not Delivery.objects.exists()


def test_a_disabled_integration_refuses(client) -> None:
    integration, token = make(AM, enabled=False)
    assert post_json(client, url(token), fixture("alertmanager", "firing.json")).status_code == 403


def test_an_invalid_payload_gets_a_clear_400(client) -> None:
    integration, token = make(AM)
    response = post_json(client, url(token), {"version": "3", "alerts": [{"status": "weird"}]})
    assert response.status_code == 400
    errors = response.json()["error"]["fields"]["payload"]
    assert any("version" in e for e in errors) and any("alerts[0].status" in e for e in errors)
    assert post_json(client, url(token), "{not json").status_code == 400
    assert post_json(client, url(token), "[]").status_code == 400
    assert not Delivery.objects.exists()


def test_a_payload_over_512_kb_is_refused_with_413(client) -> None:
    integration, token = make(AM)
    big = fixture_json("alertmanager", "firing.json")
    big["commonAnnotations"]["padding"] = "x" * MAX_PAYLOAD
    response = post_json(client, url(token), big)
    assert response.status_code == 413
    assert "512 KB" in response.json()["error"]["message"]
    assert not Delivery.objects.exists()


def test_over_the_rate_limit_answers_429_with_retry_after(client) -> None:
    integration, token = make(AM, rate_limit_per_minute=2)
    body = fixture("alertmanager", "firing.json")
    # The window is the clock's minute: hold the clock 20 s into one, so that the
    # three requests share it whatever the real time is.
    with time_machine.travel(datetime(2026, 3, 1, 12, 0, 40, tzinfo=UTC), tick=False):
        assert [post_json(client, url(token), body).status_code for _ in range(3)] == [202, 202, 429]
        assert post_json(client, url(token), body)["Retry-After"] == "20"
    # The next minute is a new window.
    with time_machine.travel(datetime(2026, 3, 1, 12, 1, 0, tzinfo=UTC), tick=False):
        assert post_json(client, url(token), body).status_code == 202
    assert Delivery.objects.count() == 3


def test_when_the_payload_cannot_be_stored_the_answer_is_5xx(client, monkeypatch) -> None:
    from django.db import OperationalError

    integration, token = make(AM)

    def unavailable(**kwargs):
        raise OperationalError("database is unavailable")

    monkeypatch.setattr(receive, "delivery_store", unavailable)
    response = post_json(client, url(token), fixture("alertmanager", "firing.json"))
    assert response.status_code == 503
    assert response["Retry-After"]


def test_get_is_not_allowed(client) -> None:
    integration, token = make(AM)
    assert client.get(url(token)).status_code == 405


def test_a_body_that_is_not_utf8_is_a_400_not_a_500(client) -> None:
    integration, token = make(AM)
    body = fixture("alertmanager", "firing.json").encode("utf-16")
    response = client.post(url(token), data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_encoding"
