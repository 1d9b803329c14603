"""Response checklists: attached to a severity (and maybe a service), started by the
incident core's events, items due and overdue against a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.urls import reverse

from incidents.services import incident_change_severity, incident_change_status
from portal.errors import Conflict, ValidationFailed
from portal.tests.factories import declare, severity
from runbooks.models import Run, StepState
from runbooks.selectors import incident_checklists
from runbooks.services import StepInput, runbook_save, step_complete
from runbooks.services.checklists import checklist_attach, checklists_start
from runbooks.tests.support import latency_runbook

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def first_response(by: Any) -> Any:
    """The issue's example checklist."""
    return runbook_save(title="Major incident: first response", by=by, steps=[
        StepInput(title="Acknowledge", due_minutes=15),
        StepInput(title="Name a commander", due_minutes=15),
        StepInput(title="Post the first public update", due_minutes=15),
        StepInput(title="Identify affected services", due_minutes=30),
        StepInput(title="Check recent deployments", due_minutes=30),
        StepInput(title="Schedule the postmortem", due_minutes=48 * 60, due_from="resolution"),
    ])  # fmt: skip


def statuses(incident: Any) -> dict[str, str]:
    [(_run, items)] = incident_checklists(incident)
    return {item.step_run.title: item.status for item in items}


def test_a_checklist_starts_by_itself_when_an_incident_opens_at_its_severity(cast: Any, clock: Any,
                                                                               django_capture_on_commit_callbacks: Any) -> None:  # fmt: skip
    checklist_attach(runbook=first_response(cast.owner), severity=severity("SEV1"), by=cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        sev1 = declare(by=cast.responder, sev="SEV1")
        sev2 = declare(by=cast.responder, sev="SEV2", title="Search is slow")
    [run] = Run.objects.filter(incident=sev1)
    assert run.started_by is None and run.step_runs.count() == 6
    assert not Run.objects.filter(incident=sev2).exists()
    checklists_start(incident_id=sev1.pk)  # a second delivery of the event starts nothing
    assert Run.objects.filter(incident=sev1).count() == 1
    # raised to SEV1 later: the SEV1 checklist starts then
    with django_capture_on_commit_callbacks(execute=True):
        incident_change_severity(incident=sev2, severity=severity("SEV1"), by=cast.responder)
    assert Run.objects.filter(incident=sev2).count() == 1


def test_a_service_checklist_starts_only_for_incidents_touching_the_service(cast: Any,
                                                                              django_capture_on_commit_callbacks: Any) -> None:  # fmt: skip
    checklist_attach(runbook=first_response(cast.owner), severity=severity("SEV2"), service=cast.service, by=cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        elsewhere = declare(by=cast.responder)
        touching = declare(by=cast.responder, impacts={cast.service: "major_outage"})
    assert not Run.objects.filter(incident=elsewhere).exists()
    assert Run.objects.filter(incident=touching).count() == 1


def test_items_are_due_then_overdue_and_count_from_the_resolution_when_they_say_so(cast: Any, clock: Any,
                                                                                     django_capture_on_commit_callbacks: Any) -> None:  # fmt: skip
    checklist_attach(runbook=first_response(cast.owner), severity=severity("SEV1"), by=cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(by=cast.responder, sev="SEV1")
    assert set(statuses(incident).values()) == {"due", "later"}
    assert statuses(incident)["Schedule the postmortem"] == "later"

    clock.shift(timedelta(minutes=10))
    run = Run.objects.get(incident=incident)
    # checked off in any order: an item with a target is not held by the ones before it
    step_complete(step_run=run.step_runs.get(title="Post the first public update"), by=cast.responder, outcome="succeeded")
    clock.shift(timedelta(minutes=6))  # 16 minutes in
    now = statuses(incident)
    assert now["Post the first public update"] == "done"
    assert now["Acknowledge"] == now["Name a commander"] == "overdue"
    assert now["Identify affected services"] == "due"

    incident = incident_change_status(incident=incident, status="resolved", by=cast.responder)
    clock.shift(timedelta(hours=47))
    assert statuses(incident)["Schedule the postmortem"] == "due"
    clock.shift(timedelta(hours=2))
    assert statuses(incident)["Schedule the postmortem"] == "overdue"
    [(_run, items)] = incident_checklists(incident)
    item = next(i for i in items if i.step_run.title == "Schedule the postmortem")
    assert item.due_at == T0 + timedelta(minutes=16) + timedelta(hours=48)


def test_an_ordinary_manual_step_is_still_checked_off_in_order(cast: Any) -> None:
    from runbooks.services import run_start

    runbook = runbook_save(title="Ordered", by=cast.owner, steps=[StepInput(title="One"), StepInput(title="Two")])
    run = run_start(runbook=runbook, by=cast.responder)
    with pytest.raises(Conflict):
        step_complete(step_run=run.step_runs.get(order=2), by=cast.responder, outcome="succeeded")


def test_only_manual_steps_carry_targets_and_only_manual_runbooks_are_checklists(cast: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        runbook_save(title="Bad", by=cast.owner, steps=[
            StepInput(title="Scale", kind="automated", action="k8s.scale", due_minutes=5,
                      parameters={"kind": "deployment", "name": "api", "namespace": "production", "replicas": 2}),
        ])  # fmt: skip
    assert "steps.0.due_minutes" in err.value.fields
    with pytest.raises(ValidationFailed) as err:
        runbook_save(title="Bad", by=cast.owner, steps=[StepInput(title="Wait", due_minutes="soon")])  # type: ignore[arg-type]
    assert "steps.0.due_minutes" in err.value.fields
    with pytest.raises(ValidationFailed):
        checklist_attach(runbook=latency_runbook(cast.owner), severity=severity("SEV1"), by=cast.owner)


def test_the_war_room_panel_shows_done_due_and_overdue(cast: Any, clock: Any, client: Any,
                                                        django_capture_on_commit_callbacks: Any) -> None:  # fmt: skip
    checklist_attach(runbook=first_response(cast.owner), severity=severity("SEV1"), by=cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(by=cast.responder, sev="SEV1")
    run = Run.objects.get(incident=incident)
    step_complete(step_run=run.step_runs.get(title="Acknowledge"), by=cast.responder, outcome="succeeded")
    clock.shift(timedelta(minutes=20))
    client.force_login(cast.viewer)
    html = client.get(reverse("runbooks:incident-panel", args=[incident.pk])).content.decode()
    assert "Checklist: " in html and "Major incident: first response" in html
    assert html.count('class="item-done"') == 1
    assert html.count('class="item-overdue"') == 2  # commander, public update
    assert html.count('class="item-due"') == 2  # the 30-minute ones
    assert html.count('class="item-later"') == 1
    assert run.step_runs.get(title="Acknowledge").state == StepState.SUCCEEDED
