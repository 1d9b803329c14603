from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import time_machine

from incidents.models import (
    DeliveryState,
    Escalation,
    EscalationPolicy,
    EscalationState,
    EscalationStep,
    NotificationDelivery,
    Page,
    Service,
    SeverityPaging,
    TimelineEvent,
)
from incidents.oncall import paging
from incidents.services import incident_acknowledge, incident_add_note, incident_change_status
from portal.models import Team
from portal.tests.factories import ServiceFactory, TeamFactory, declare

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday: Ada's week (rotation started 5 January, 2 people)


def paging_events(incident: Any) -> list[str]:
    return [e.body for e in TimelineEvent.objects.filter(incident=incident).order_by("occurred_at", "id") if "paging" in e.details]


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def run_due() -> int:
    return paging.escalations_sweep()


def test_a_paging_incident_pages_the_on_call_person_then_escalates_and_repeats(crew, clock, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(title="Checkout down", sev="SEV1")
    escalation = Escalation.objects.get(incident=incident)
    assert (escalation.state, escalation.next_step, escalation.next_due_at) == (EscalationState.ACTIVE, 0, T0)

    assert paging.escalation_run_step(escalation_id=escalation.pk, step=0) is True
    assert paging.escalation_run_step(escalation_id=escalation.pk, step=0) is False  # a redelivered task
    assert list(Page.objects.values_list("step", "user__username", "via")) == [(0, "ada", "schedule Primary")]
    assert list(NotificationDelivery.objects.values_list("kind", "target", "state")) == [("email", "ada@example.com", "pending")]

    clock.shift(timedelta(minutes=4, seconds=59))
    assert run_due() == 0
    clock.shift(timedelta(seconds=1))
    assert run_due() == 1
    clock.shift(timedelta(minutes=10))
    assert run_due() == 1  # the repeat: the primary again
    clock.shift(timedelta(minutes=5))
    assert run_due() == 1
    assert Escalation.objects.get(pk=escalation.pk).breached_at == T0 + timedelta(minutes=20)
    clock.shift(timedelta(minutes=10))
    run_due()  # after the last step's delay: paging ends
    assert list(Page.objects.order_by("step").values_list("step", "user__username")) == [(0, "ada"), (1, "lead"), (2, "ada"), (3, "lead")]
    assert paging_events(incident) == [
        "Paging started: escalation policy Default",
        "Paged Ada Lovelace (schedule Primary): step 1 of 2 of Default",
        "Paged Lee Lead (directly): step 2 of 2 of Default",
        "Paged Ada Lovelace (schedule Primary): step 1 of 2, repeat 1 of Default",
        "Response target missed (SEV1): escalating now",  # 15 minutes passed at the repeat, unacknowledged
        "Paged Lee Lead (directly): step 2 of 2, repeat 1 of Default",
        "Paging ended: no one acknowledged after 4 steps",
    ]
    assert Escalation.objects.get(pk=escalation.pk).state == EscalationState.EXHAUSTED


def test_acknowledgement_stops_paging_and_later_steps_never_fire(crew, clock, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(title="Checkout down", sev="SEV1")
    escalation = Escalation.objects.get(incident=incident)
    paging.escalation_run_step(escalation_id=escalation.pk, step=0)
    with django_capture_on_commit_callbacks(execute=True):
        incident_acknowledge(incident=incident, by=crew["ada"])
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.ACKNOWLEDGED
    clock.shift(timedelta(hours=1))
    assert run_due() == 0
    assert paging.escalation_run_step(escalation_id=escalation.pk, step=1) is False
    assert Page.objects.count() == 1
    assert paging_events(incident)[-1] == "Paging stopped: acknowledged"


def test_any_first_human_action_acknowledges_and_resolution_stops_paging(crew, clock, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        noted = declare(title="Search slow", sev="SEV1")
        resolved = declare(title="Login slow", sev="SEV1")
    with django_capture_on_commit_callbacks(execute=True):
        incident_add_note(incident=noted, body="Looking", by=crew["bob"])
        incident_change_status(incident=resolved, status="resolved", by=None)
    assert Escalation.objects.get(incident=noted).state == EscalationState.ACKNOWLEDGED
    assert Escalation.objects.get(incident=resolved).state == EscalationState.RESOLVED


def test_a_non_paging_severity_or_an_acknowledged_incident_pages_no_one(crew, clock, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        quiet = declare(title="Typo on the status page", sev="SEV4")
        owned = declare(title="Known issue", sev="SEV1", commander=crew["bob"], by=crew["bob"])
    assert not Escalation.objects.filter(incident__in=[quiet, owned]).exists()


def test_the_severity_policy_wins_over_the_service_and_team_policies(crew, clock) -> None:
    team = cast(Team, TeamFactory(slug="payments"))
    service = cast(Service, ServiceFactory(slug="checkout", team=team))
    team_policy = EscalationPolicy.objects.create(slug="team", name="Team")
    team_policy.teams.add(team)
    incident = declare(title="x", sev="SEV2", impacts={service: "major_outage"})
    assert paging.resolve_policy(incident) == team_policy
    service_policy = EscalationPolicy.objects.create(slug="svc", name="Service")
    service_policy.services.add(service)
    assert paging.resolve_policy(incident) == service_policy
    sev_policy = EscalationPolicy.objects.create(slug="sev", name="Severity")
    SeverityPaging.objects.create(severity=incident.severity, policy=sev_policy)
    assert paging.resolve_policy(incident) == sev_policy


def test_the_sweeper_starts_paging_that_the_subscriber_missed_and_a_team_step_pages_its_members(crew, clock) -> None:
    team = cast(Team, TeamFactory(slug="dba"))
    team.members.add(crew["bob"], crew["lead"])
    step = EscalationStep.objects.get(policy=crew["policy"], position=0)
    step.teams.add(team)
    incident = declare(title="Replica lag", sev="SEV1")  # on-commit callbacks not run: the subscriber never ran
    assert not Escalation.objects.filter(incident=incident).exists()
    assert run_due() == 1
    assert sorted(Page.objects.values_list("user__username", "via")) == [("ada", "schedule Primary"), ("bob", "team Dba"), ("lead", "team Dba")]
    assert NotificationDelivery.objects.filter(state=DeliveryState.PENDING).count() == 3


def test_a_step_whose_transaction_failed_is_paged_by_the_sweeper_once(crew, clock, monkeypatch, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(title="Checkout down", sev="SEV1")
    escalation = Escalation.objects.get(incident=incident)
    real = paging.incident_record_event

    def crash(**kwargs: Any) -> Any:
        raise RuntimeError("worker lost its database connection")

    monkeypatch.setattr(paging, "incident_record_event", crash)
    with pytest.raises(RuntimeError):
        paging.escalation_run_step(escalation_id=escalation.pk, step=0)
    assert Page.objects.count() == 0 and NotificationDelivery.objects.count() == 0
    assert Escalation.objects.get(pk=escalation.pk).next_step == 0  # the claim was rolled back with the rest
    monkeypatch.setattr(paging, "incident_record_event", real)
    assert run_due() == 1
    assert run_due() == 0
    assert list(Page.objects.values_list("step", "user__username")) == [(0, "ada")]


def test_an_incident_opened_by_an_alert_pages_too(crew, clock, django_capture_on_commit_callbacks) -> None:
    from incidents.integrations.tests.helpers import fixture, make, process_pending, store
    from incidents.models import Incident

    integration, _ = make("alertmanager")
    store(integration, fixture("alertmanager", "firing.json"))
    with django_capture_on_commit_callbacks(execute=True):
        process_pending()
    incident = Incident.objects.get()
    assert incident.severity.pages and incident.acknowledged_at is None
    escalation = Escalation.objects.get(incident=incident)
    assert paging.escalation_run_step(escalation_id=escalation.pk, step=0) is True
    assert list(Page.objects.values_list("user__username", flat=True)) == ["ada"]


def test_due_steps_are_paged_in_one_batch_and_once(crew, clock, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incidents = [declare(title=f"Storm {i}", sev="SEV1") for i in range(3)]
    assert paging.escalations_run_due() == 3  # every step 0 in one transaction
    assert paging.escalations_run_due() == 0
    clock.shift(timedelta(minutes=5))
    assert paging.escalations_run_due(limit=2) == 2  # the batch size bounds a transaction
    assert paging.escalation_run_step(escalation_id=Escalation.objects.get(incident=incidents[0]).pk, step=1) is False  # its timer, late
    assert paging.escalations_run_due() == 1
    assert sorted(Page.objects.values_list("escalation__incident__title", "step", "user__username")) == [
        (f"Storm {i}", step, who) for i in range(3) for step, who in ((0, "ada"), (1, "lead"))]
