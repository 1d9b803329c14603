"""Recurring maintenance: an RFC 5545 rule whose next occurrences become windows.

Occurrences are computed in the recurrence's own time zone, so "Tuesday 02:00
Europe/Berlin" stays at 02:00 local time across daylight-saving changes.
Materialising is idempotent: a window per (recurrence, start), enforced by a
unique constraint, so beat running it twice, or two workers at once, create each
window once.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.rrule import DAILY, rrulestr
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.models import MaintenanceRecurrence, MaintenanceStatus, MaintenanceWindow, Service, Visibility
from incidents.services.maintenance import maintenance_cancel_scheduled, maintenance_schedule
from incidents.services.text import MAX_BODY, MAX_TITLE, clean_field
from portal.errors import ValidationFailed

MAX_PER_RUN = 60


def _rule(rule: str, first_start: datetime, tz_name: str) -> Any:
    try:
        tz = zoneinfo.ZoneInfo(tz_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed("Unknown time zone.", fields={"timezone": [f"{tz_name!r} is not an IANA time zone."]}) from None
    text = (rule or "").strip().removeprefix("RRULE:")
    if not text or "\n" in text or "DTSTART" in text.upper():
        raise ValidationFailed("Not a recurrence rule.", fields={"rule": ["One RRULE, e.g. FREQ=WEEKLY;BYDAY=TU (the first start is given apart)."]})
    try:
        parsed = rrulestr(text, dtstart=first_start.astimezone(tz).replace(tzinfo=None))
    except (ValueError, TypeError, KeyError) as exc:
        raise ValidationFailed("Not a recurrence rule.", fields={"rule": [f"Not an RFC 5545 rule: {exc}"]}) from None
    if parsed._freq > DAILY:  # type: ignore[union-attr]  # one RRULE parses to an rrule; its frequency has no public name  # HOURLY, MINUTELY, SECONDLY: a flood, not a maintenance calendar
        raise ValidationFailed("Too frequent.", fields={"rule": ["At most one maintenance a day (FREQ=DAILY or less often)."]})
    return parsed, tz


def occurrences(recurrence: MaintenanceRecurrence, *, after: datetime, before: datetime) -> list[datetime]:
    """Starts in (after, before], aware, in UTC."""
    rule, tz = _rule(recurrence.rule, recurrence.first_start, recurrence.timezone)
    local_after = after.astimezone(tz).replace(tzinfo=None)
    local_before = before.astimezone(tz).replace(tzinfo=None)
    starts = rule.between(local_after, local_before, inc=True)[:MAX_PER_RUN]
    return [start.replace(tzinfo=tz).astimezone(UTC) for start in starts]


@transaction.atomic
def maintenance_recurrence_create(
    *, title: str, rule: str, first_start: datetime, duration: timedelta, services: Iterable[Service], by: Any,
    timezone_name: str = "UTC", description: str = "", visibility: str = Visibility.PUBLIC, horizon_days: int = 35,
) -> MaintenanceRecurrence:  # fmt: skip
    title = clean_field(title, "title", max_length=MAX_TITLE, required=True)
    description = clean_field(description, "description", max_length=MAX_BODY, multiline=True)
    _rule(rule, first_start, timezone_name)
    if duration <= timedelta(0) or duration > timedelta(days=7):
        raise ValidationFailed("Bad duration.", fields={"duration": ["Between one minute and seven days."]})
    services = list(services)
    if not services:
        raise ValidationFailed("Name at least one service.", fields={"services": ["Choose at least one service."]})
    recurrence = MaintenanceRecurrence.objects.create(
        title=title, description=description, rule=rule.strip().removeprefix("RRULE:"), first_start=first_start,
        timezone=timezone_name, duration=duration, visibility=visibility, horizon_days=horizon_days,
        created_by=by if getattr(by, "is_authenticated", False) else None,
    )  # fmt: skip
    recurrence.services.set(services)
    maintenance_recurrence_materialise(recurrence=recurrence)
    return recurrence


def maintenance_recurrence_materialise(*, recurrence: MaintenanceRecurrence, now: datetime | None = None) -> list[MaintenanceWindow]:
    """Create the windows of the occurrences within the horizon that have none yet."""
    now = now or timezone.now()
    start_from = max(now, recurrence.first_start - timedelta(seconds=1))
    existing = set(recurrence.windows.values_list("scheduled_start", flat=True))
    services = list(recurrence.services.all())
    created: list[MaintenanceWindow] = []
    for start in occurrences(recurrence, after=start_from, before=now + timedelta(days=recurrence.horizon_days)):
        if start in existing:
            continue
        try:
            with transaction.atomic():
                window = maintenance_schedule(
                    title=recurrence.title, description=recurrence.description, scheduled_start=start,
                    scheduled_end=start + recurrence.duration, services=services, visibility=recurrence.visibility, by=None,
                )  # fmt: skip
                window.recurrence = recurrence
                window.save(update_fields=["recurrence"])
        except IntegrityError:
            continue  # materialised by a concurrent run
        created.append(window)
    return created


def maintenance_recurrences_materialise_all(*, now: datetime | None = None) -> int:
    return sum(len(maintenance_recurrence_materialise(recurrence=r, now=now)) for r in MaintenanceRecurrence.objects.all())


def _future_scheduled(recurrence: MaintenanceRecurrence, now: datetime) -> list[MaintenanceWindow]:
    return list(recurrence.windows.filter(status=MaintenanceStatus.SCHEDULED, scheduled_start__gt=now))


@transaction.atomic
def maintenance_recurrence_update(
    *, recurrence: MaintenanceRecurrence | int, by: Any, now: datetime | None = None, **fields: Any
) -> MaintenanceRecurrence:
    """Change a recurring maintenance (title, description, rule, first_start,
    timezone_name, duration, services, visibility). Its windows that have not
    started are removed and materialised again from the new rule; windows that
    started or happened stay as they were."""
    now = now or timezone.now()
    pk = recurrence if isinstance(recurrence, int) else recurrence.pk
    recurrence = MaintenanceRecurrence.objects.select_for_update().get(pk=pk)
    services = fields.pop("services", None)
    if "timezone_name" in fields:
        fields["timezone"] = fields.pop("timezone_name")
    if "title" in fields:
        fields["title"] = clean_field(fields["title"], "title", max_length=MAX_TITLE, required=True)
    if "description" in fields:
        fields["description"] = clean_field(fields["description"], "description", max_length=MAX_BODY, multiline=True)
    if "rule" in fields:
        fields["rule"] = (fields["rule"] or "").strip().removeprefix("RRULE:")
    if "visibility" in fields and fields["visibility"] not in Visibility.values:
        raise ValidationFailed("Unknown visibility.", fields={"visibility": [f"Choose one of {Visibility.values}."]})
    unknown = set(fields) - {"title", "description", "rule", "first_start", "timezone", "duration", "visibility", "horizon_days"}
    if unknown:
        raise TypeError(f"Unknown fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(recurrence, name, value)
    _rule(recurrence.rule, recurrence.first_start, recurrence.timezone)
    if recurrence.duration <= timedelta(0) or recurrence.duration > timedelta(days=7):
        raise ValidationFailed("Bad duration.", fields={"duration": ["Between one minute and seven days."]})
    recurrence.save()
    if services is not None:
        services = list(services)
        if not services:
            raise ValidationFailed("Name at least one service.", fields={"services": ["Choose at least one service."]})
        recurrence.services.set(services)
    for window in _future_scheduled(recurrence, now):
        maintenance_cancel_scheduled(window=window, by=by)
    maintenance_recurrence_materialise(recurrence=recurrence, now=now)
    return recurrence


@transaction.atomic
def maintenance_recurrence_delete(*, recurrence: MaintenanceRecurrence | int, by: Any, now: datetime | None = None) -> None:
    """Stop a recurring maintenance: its windows that have not started go too;
    those that started or happened stay."""
    pk = recurrence if isinstance(recurrence, int) else recurrence.pk
    locked = MaintenanceRecurrence.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        return
    for window in _future_scheduled(locked, now or timezone.now()):
        maintenance_cancel_scheduled(window=window, by=by)
    locked.delete()
