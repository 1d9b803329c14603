"""A reopened incident at a paging severity pages its policy again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from incidents.models import Escalation, EscalationState, Page
from incidents.oncall import paging
from incidents.oncall.tests.test_paging import clock, paging_events, run_due  # noqa: F401 - the fixture
from incidents.services import incident_acknowledge, incident_change_status
from portal.errors import Conflict
from portal.tests.factories import declare


def test_a_reopened_incident_is_paged_again_from_the_first_step_until_acknowledged_again(
    crew, clock, django_capture_on_commit_callbacks  # noqa: F811
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(title="Checkout down", sev="SEV1")
    escalation = Escalation.objects.get(incident=incident)
    assert run_due() == 1  # step 0: Ada
    with django_capture_on_commit_callbacks(execute=True):
        incident_acknowledge(incident=incident, by=crew["ada"])
    clock.shift(timedelta(minutes=30))
    with django_capture_on_commit_callbacks(execute=True):
        incident_change_status(incident=incident, status="resolved", by=crew["ada"])
    assert paging.escalation_start(incident_id=incident.pk) is None  # resolved: nothing to page

    clock.shift(timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):  # the alert fired again: reopened by the system
        incident_change_status(incident=incident, status="investigating", by=None, reason="The alert fired again")
    escalation.refresh_from_db()
    assert (escalation.state, escalation.first_step, escalation.next_step) == (EscalationState.ACTIVE, 1, 1)
    assert paging.escalation_start(incident_id=incident.pk) is None  # twice: one run
    assert paging.escalation_run_step(escalation_id=escalation.pk, step=0) is False  # a late task of the first run
    assert run_due() == 1
    clock.shift(timedelta(minutes=5))
    assert run_due() == 1
    assert list(Page.objects.order_by("step").values_list("step", "user__username")) == [(0, "ada"), (1, "ada"), (2, "lead")]

    # the incident keeps its first acknowledgement (MTTA); the new run needs its own
    with pytest.raises(Conflict):
        incident_acknowledge(incident=incident, by=crew["lead"])
    with django_capture_on_commit_callbacks(execute=True):
        paging.escalation_acknowledge(incident_id=incident.pk, by=crew["lead"])
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.ACKNOWLEDGED
    clock.shift(timedelta(hours=1))
    assert run_due() == 0
    with pytest.raises(Conflict):
        paging.escalation_acknowledge(incident_id=incident.pk, by=crew["lead"])
    assert paging_events(incident) == [
        "Paging started: escalation policy Default",
        "Paged Ada Lovelace (schedule Primary): step 1 of 2 of Default",
        "Paging stopped: acknowledged",
        "Paging started again (incident reopened): escalation policy Default",
        "Paged Ada Lovelace (schedule Primary): step 1 of 2 of Default",
        "Paged Lee Lead (directly): step 2 of 2 of Default",
        "Paging stopped: acknowledged by Lee Lead",
    ]


def test_a_reopened_incident_is_acknowledged_again_through_the_api(crew, clock, django_capture_on_commit_callbacks) -> None:  # noqa: F811
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(title="Search down", sev="SEV1", by=crew["bob"], commander=crew["bob"])  # acknowledged: no paging
        incident_change_status(incident=incident, status="resolved", by=crew["bob"])
    assert not Escalation.objects.filter(incident=incident).exists()
    clock.shift(timedelta(minutes=20))
    with django_capture_on_commit_callbacks(execute=True):
        incident_change_status(incident=incident, status="investigating", by=crew["bob"], reason="Back again")
    escalation = Escalation.objects.get(incident=incident)
    assert escalation.state == EscalationState.ACTIVE
    api = Client()
    api.force_login(crew["ada"])
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/api/v1/incidents/{incident.reference}/acknowledge/")
    assert answer.status_code == 200, answer.content
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.ACKNOWLEDGED
    assert api.post(f"/api/v1/incidents/{incident.reference}/acknowledge/").status_code == 409


def test_a_reopened_incident_at_a_severity_that_does_not_page_pages_no_one(crew, clock, django_capture_on_commit_callbacks) -> None:  # noqa: F811
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(title="Typo", sev="SEV4")
        incident_change_status(incident=incident, status="resolved", by=None)
    with django_capture_on_commit_callbacks(execute=True):
        incident_change_status(incident=incident, status="investigating", by=None, reason="Again")
    assert not Escalation.objects.filter(incident=incident).exists()
