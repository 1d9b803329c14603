"""Reads: which accounts and addresses are locked out now, and until when.

django-axes keeps one row per (username, address, user agent) with its failures
and the time of the last one; a username or an address is locked while its rows
touched within the cool-off period add up to the failure limit. This is the same
rule as `AxesDatabaseHandler.get_failures`, grouped for a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.utils import timezone


@dataclass(frozen=True)
class Lockout:
    kind: str  # "username" or "ip_address"
    value: str
    failures: int
    last_failure_at: datetime
    locked_until: datetime


def current_lockouts(*, now: datetime | None = None) -> list[Lockout]:
    now = now or timezone.now()
    recent = AccessAttempt.objects.filter(attempt_time__gte=now - settings.AXES_COOLOFF_TIME)
    lockouts: list[Lockout] = []
    for kind in ("username", "ip_address"):
        rows = (
            recent.exclude(**{f"{kind}__isnull": True})
            .values(kind)
            .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
            .order_by("-last")
        )
        lockouts += [
            Lockout(kind, str(row[kind]), row["failures"], row["last"], row["last"] + settings.AXES_COOLOFF_TIME)
            for row in rows
        ]
    return lockouts


def locked_until(*, username: str | None, ip_address: str | None, now: datetime | None = None) -> datetime | None:
    """When the later of the two lock-outs (account, address) ends, or None if neither is locked."""
    ends = [
        lockout.locked_until
        for lockout in current_lockouts(now=now)
        if (lockout.kind == "username" and lockout.value == username)
        or (lockout.kind == "ip_address" and lockout.value == ip_address)
    ]
    return max(ends, default=None)
