"""Writes on the service catalogue that other apps call."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from incidents import events
from incidents.models import Impact, Service
from portal.errors import ValidationFailed

OBSERVABLE = (Impact.OPERATIONAL, Impact.DEGRADED_PERFORMANCE, Impact.PARTIAL_OUTAGE, Impact.MAJOR_OUTAGE)


@transaction.atomic
def service_set_observed_status(*, service: Service | int, status: str, at: datetime | None = None) -> bool:
    """Record what automated checks observe of a service ("" when nothing observes it
    any more). Returns whether it changed; a change is published after commit, so the
    dashboard and the status page show it. Older observations than the stored one are
    ignored, so a late writer cannot put back a stale status."""
    if status and status not in OBSERVABLE:
        raise ValidationFailed("Unknown observed status.", fields={"status": [f"One of {', '.join(OBSERVABLE)} or blank."]})
    pk = service if isinstance(service, int) else service.pk
    at = at or timezone.now()
    row = Service.objects.select_for_update().filter(pk=pk).values("observed_status", "observed_at", "visibility").first()
    if row is None or (row["observed_at"] is not None and at < row["observed_at"]):
        return False
    if row["observed_status"] == status:
        Service.objects.filter(pk=pk).update(observed_at=at)
        return False
    # updated_at moves too: the status page's "last changed" time reads it.
    Service.objects.filter(pk=pk).update(observed_status=status, observed_at=at, updated_at=timezone.now())
    events.publish("service.observed_status", public=row["visibility"] == "public", service_id=pk, status=status)
    return True
