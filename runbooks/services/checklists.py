"""Response checklists: attach a runbook of manual steps to a severity (and maybe a
service), and start it by itself when an incident opens at that severity."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from incidents.models import Incident, Service, Severity
from portal.errors import ValidationFailed
from runbooks.models import AuditEntry, Checklist, Run, Runbook, StepKind
from runbooks.services.runs import run_start

log = logging.getLogger(__name__)


def _actor(by: Any) -> Any:
    return by if getattr(by, "is_authenticated", False) else None


@transaction.atomic
def checklist_attach(*, runbook: Runbook, severity: Severity, by: Any, service: Service | None = None) -> Checklist:
    """Attach a checklist. Only runbooks of manual steps: nothing runs on a cluster
    because an incident was declared."""
    if runbook.steps.filter(kind=StepKind.AUTOMATED).exists():
        raise ValidationFailed("A checklist has manual steps only.", fields={"runbook": ["This runbook has automated steps."]})
    if not runbook.steps.exists():
        raise ValidationFailed("This runbook has no steps.", fields={"runbook": ["Add steps before attaching it."]})
    checklist, created = Checklist.objects.get_or_create(runbook=runbook, severity=severity, service=service)
    if created:
        AuditEntry.objects.create(actor=_actor(by), action="checklist.attached", runbook=runbook,
                                  parameters={"severity": severity.name, "service": service.slug if service else None})  # fmt: skip
    return checklist


@transaction.atomic
def checklist_detach(*, checklist: Checklist, by: Any) -> None:
    AuditEntry.objects.create(actor=_actor(by), action="checklist.detached", runbook_id=checklist.runbook_id,
                              parameters={"severity": checklist.severity.name,
                                          "service": checklist.service.slug if checklist.service else None})  # fmt: skip
    checklist.delete()


@transaction.atomic
def checklists_start(*, incident_id: int) -> list[Run]:
    """Start every checklist attached to the incident's severity (for any service, or
    for one the incident touches) that has not run on this incident yet. Safe to
    call twice: the incident row is locked and runs already started are skipped."""
    incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
    if incident is None or incident.resolved_at is not None:
        return []
    service_ids = set(incident.services.values_list("pk", flat=True))
    wanted = [c for c in Checklist.objects.filter(severity_id=incident.severity_id).select_related("runbook")
              if c.service_id is None or c.service_id in service_ids]  # fmt: skip
    done = set(Run.objects.filter(incident=incident, runbook__in=[c.runbook_id for c in wanted]).values_list("runbook_id", flat=True))
    started = []
    for checklist in wanted:
        if checklist.runbook_id in done:
            continue
        done.add(checklist.runbook_id)
        started.append(run_start(runbook=checklist.runbook, by=None, incident=incident))
    return started


@transaction.atomic
def checklists_set(*, runbook: Runbook, severities: list[Severity], by: Any) -> None:
    """The severities (for any service) at which this runbook starts by itself."""
    wanted = {s.pk: s for s in severities}
    for checklist in Checklist.objects.filter(runbook=runbook, service__isnull=True).select_related("severity"):
        if checklist.severity_id not in wanted:
            checklist_detach(checklist=checklist, by=by)
        wanted.pop(checklist.severity_id, None)
    for severity in wanted.values():
        checklist_attach(runbook=runbook, severity=severity, by=by)
