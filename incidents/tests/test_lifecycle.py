from __future__ import annotations

import itertools

import pytest

from incidents.models import IncidentStatus, TimelineEvent, TimelineKind
from incidents.services import ALLOWED_TRANSITIONS, incident_change_status
from portal.errors import InvalidTransition, ValidationFailed
from portal.tests.factories import declare

pytestmark = pytest.mark.django_db

S = IncidentStatus
ALL_PAIRS = list(itertools.permutations(S.values, 2)) + [(s, s) for s in S.values]


def _incident_in(status: str, by):
    incident = declare(by=by)
    paths: dict[str, list[str]] = {
        S.INVESTIGATING: [],
        S.IDENTIFIED: [S.IDENTIFIED],
        S.MONITORING: [S.MONITORING],
        S.RESOLVED: [S.RESOLVED],
    }
    for step in paths[status]:
        incident = incident_change_status(incident=incident, status=step, by=by)
    return incident


@pytest.mark.parametrize(("current", "requested"), [p for p in ALL_PAIRS if p[1] in ALLOWED_TRANSITIONS[p[0]]])
def test_it_allows_the_transition(cast, current: str, requested: str) -> None:
    incident = _incident_in(current, cast.responder)
    changed = incident_change_status(incident=incident, status=requested, by=cast.responder, reason="it came back")
    changed.refresh_from_db()
    assert changed.status == requested
    last = TimelineEvent.objects.filter(incident=changed, kind=TimelineKind.STATUS_CHANGE).order_by("-id").first()
    assert last is not None and last.details["from"] == current and last.details["to"] == requested


@pytest.mark.parametrize(("current", "requested"), [p for p in ALL_PAIRS if p[1] not in ALLOWED_TRANSITIONS[p[0]]])
def test_it_refuses_the_transition_and_names_the_allowed_ones(cast, current: str, requested: str) -> None:
    incident = _incident_in(current, cast.responder)
    events_before = TimelineEvent.objects.filter(incident=incident).count()
    with pytest.raises(InvalidTransition) as caught:
        incident_change_status(incident=incident, status=requested, by=cast.responder, reason="x")
    assert caught.value.extra["allowed"] == list(ALLOWED_TRANSITIONS[current])
    incident.refresh_from_db()
    assert incident.status == current
    assert TimelineEvent.objects.filter(incident=incident).count() == events_before


def test_it_refuses_a_transition_from_resolved_to_identified(cast) -> None:
    incident = _incident_in(S.RESOLVED, cast.responder)
    with pytest.raises(InvalidTransition):
        incident_change_status(incident=incident, status=S.IDENTIFIED, by=cast.responder, reason="x")


def test_reopening_needs_a_reason(cast) -> None:
    incident = _incident_in(S.RESOLVED, cast.responder)
    with pytest.raises(ValidationFailed) as caught:
        incident_change_status(incident=incident, status=S.INVESTIGATING, by=cast.responder)
    assert "reason" in caught.value.fields
    reopened = incident_change_status(incident=incident, status=S.INVESTIGATING, by=cast.responder, reason="errors are back")
    assert reopened.resolved_at is None
    event = TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.STATUS_CHANGE).latest("id")
    assert event.details["reopened"] is True and event.details["reason"] == "errors are back"


def test_milestones_are_stamped_once_for_mtta_and_mttr(cast) -> None:
    incident = declare(by=None)  # declared by an alert: nobody has acknowledged it yet
    assert incident.acknowledged_at is None
    incident = incident_change_status(incident=incident, status=S.IDENTIFIED, by=cast.responder)
    first_identified = incident.identified_at
    assert incident.acknowledged_at is not None and first_identified is not None
    incident = incident_change_status(incident=incident, status=S.INVESTIGATING, by=cast.responder)
    incident = incident_change_status(incident=incident, status=S.IDENTIFIED, by=cast.responder)
    assert incident.identified_at == first_identified
    incident = incident_change_status(incident=incident, status=S.RESOLVED, by=cast.responder)
    assert incident.resolved_at is not None and incident.mitigated_at is not None
    assert incident.time_to_resolve is not None and incident.time_to_resolve.total_seconds() >= 0
    assert incident.time_to_acknowledge is not None
