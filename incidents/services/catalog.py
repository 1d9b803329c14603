"""Deleting catalogue rows that incidents may still refer to.

Incidents keep their severity and the services they named for good (history is
not rewritten), so such a row cannot be deleted while it is referred to; the
refusal is a 409 that names the incidents, checked with cheap queries before
Django's collector would load every referring row.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from incidents.models import Incident, Service, Severity
from portal.errors import Conflict

SHOWN = 10


class InUse(Conflict):
    code = "in_use"


def _refuse_if_used(incidents: QuerySet[Incident], what: str, advice: str) -> None:
    ids = list(incidents.order_by("-pk").values_list("pk", flat=True).distinct()[: SHOWN + 1])
    if not ids:
        return
    total = len(ids) if len(ids) <= SHOWN else incidents.values("pk").distinct().count()
    refs = [f"INC-{pk}" for pk in ids[:SHOWN]]
    listed = ", ".join(refs) + (f" and {total - SHOWN} more" if total > SHOWN else "")
    noun = "incident" if total == 1 else "incidents"
    raise InUse(
        f"{what} is used by {total} {noun} ({listed}); {advice}",
        used_by={"incidents": refs},
        count=total,
    )


@transaction.atomic
def severity_delete(*, severity: Severity, by: Any) -> None:
    locked = Severity.objects.select_for_update().filter(pk=severity.pk).first()
    if locked is None:
        return  # already gone
    severity = locked
    _refuse_if_used(
        Incident.objects.filter(severity=severity),
        f"Severity {severity.name}",
        "incidents keep their severity, so rename or retarget it instead of deleting it.",
    )
    severity.delete()


@transaction.atomic
def service_delete(*, service: Service, by: Any) -> None:
    locked = Service.objects.select_for_update().filter(pk=service.pk).first()
    if locked is None:
        return  # already gone
    service = locked
    _refuse_if_used(
        Incident.objects.filter(Q(impacts__service=service) | Q(public_updates__components__service=service)),
        f"Service {service.name}",
        "incidents keep the services they named, so make it internal or rename it instead of deleting it.",
    )
    service.delete()
