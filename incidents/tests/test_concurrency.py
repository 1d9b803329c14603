"""Two changes to one incident at the same moment: neither is lost."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.db import close_old_connections, connection

from incidents.models import Incident, IncidentService, TimelineEvent, TimelineKind
from incidents.services import (
    incident_add_note,
    incident_change_severity,
    incident_change_status,
    incident_set_impact,
)
from portal.tests.factories import ServiceFactory, declare, severity

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("seeded_transactional_db")]


def _race(*jobs: Callable[[], Any]) -> list[BaseException]:
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            job()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


def test_a_severity_change_and_a_status_change_at_once_both_land(cast) -> None:
    incident = declare(by=cast.responder, sev="SEV3")
    for _ in range(5):
        errors = _race(
            lambda: incident_change_severity(incident=incident.pk, severity=severity("SEV1"), by=cast.responder),
            lambda: incident_change_status(incident=incident.pk, status="identified", by=cast.owner),
        )
        assert errors == []
        fresh = Incident.objects.select_related("severity").get(pk=incident.pk)
        assert (fresh.severity.name, fresh.status) == ("SEV1", "identified")
        # put it back for the next round, through the services
        incident_change_severity(incident=incident.pk, severity=severity("SEV3"), by=cast.responder)
        incident_change_status(incident=incident.pk, status="investigating", by=cast.responder)


def test_many_concurrent_impacts_and_notes_are_all_recorded(cast) -> None:
    incident = declare(by=cast.responder)
    services = [ServiceFactory.create(slug=f"svc-{n}") for n in range(4)]
    jobs: list[Callable[[], Any]] = [
        partial(incident_set_impact, incident=incident.pk, service=s, impact="partial_outage", by=cast.responder) for s in services
    ] + [partial(incident_add_note, incident=incident.pk, body=f"note {n}", by=cast.owner) for n in range(4)]
    assert _race(*jobs) == []
    assert IncidentService.objects.filter(incident=incident).count() == 4
    assert TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.NOTE).count() == 4
    assert TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.IMPACT_CHANGE).count() == 4


def test_two_identical_transitions_at_once_apply_once(cast) -> None:
    incident = declare(by=cast.responder)
    errors = _race(*[lambda: incident_change_status(incident=incident.pk, status="resolved", by=cast.responder)] * 2)
    assert len(errors) == 1 and type(errors[0]).__name__ == "InvalidTransition"
    assert TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.STATUS_CHANGE).count() == 1
