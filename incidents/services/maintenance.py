"""Maintenance windows: schedule, edit, and move through their statuses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents import events
from incidents.models import MaintenanceStatus, MaintenanceWindow, Service, Visibility
from incidents.services.text import MAX_BODY, MAX_TITLE, clean_field
from portal.errors import InvalidTransition, ValidationFailed

M = MaintenanceStatus
MAINTENANCE_TRANSITIONS: dict[str, tuple[str, ...]] = {
    M.SCHEDULED: (M.IN_PROGRESS, M.COMPLETED),  # completed straight from scheduled = cancelled
    M.IN_PROGRESS: (M.VERIFYING, M.COMPLETED),
    M.VERIFYING: (M.IN_PROGRESS, M.COMPLETED),
    M.COMPLETED: (),
}


def _check_window(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ValidationFailed("The window must end after it starts.", fields={"scheduled_end": ["Must be after scheduled_start."]})


@transaction.atomic
def maintenance_schedule(
    *,
    title: str,
    scheduled_start: datetime,
    scheduled_end: datetime,
    services: Iterable[Service],
    by: Any,
    description: str = "",
    visibility: str = Visibility.PUBLIC,
) -> MaintenanceWindow:
    title = clean_field(title, "title", max_length=MAX_TITLE, required=True)
    description = clean_field(description, "description", max_length=MAX_BODY, multiline=True)
    _check_window(scheduled_start, scheduled_end)
    services = list(services)
    if not services:
        raise ValidationFailed("Name at least one service.", fields={"services": ["Choose at least one service."]})
    window = MaintenanceWindow.objects.create(
        title=title,
        description=description,
        scheduled_start=scheduled_start,
        scheduled_end=scheduled_end,
        visibility=visibility,
        created_by=by if getattr(by, "is_authenticated", False) else None,
    )
    window.services.set(services)
    events.publish("maintenance.scheduled", public=window.visibility == Visibility.PUBLIC, maintenance_id=window.pk)
    return window


@transaction.atomic
def maintenance_update(
    *,
    window: MaintenanceWindow | int,
    by: Any,
    title: str | None = None,
    description: str | None = None,
    scheduled_start: datetime | None = None,
    scheduled_end: datetime | None = None,
    services: Iterable[Service] | None = None,
    visibility: str | None = None,
) -> MaintenanceWindow:
    pk = window if isinstance(window, int) else window.pk
    window = MaintenanceWindow.objects.select_for_update().get(pk=pk)
    was_public = window.visibility == Visibility.PUBLIC
    if visibility is not None:
        if visibility not in Visibility.values:
            raise ValidationFailed("Unknown visibility.", fields={"visibility": [f"Choose one of {Visibility.values}."]})
        window.visibility = visibility
    if title is not None:
        window.title = clean_field(title, "title", max_length=MAX_TITLE, required=True)
    if description is not None:
        window.description = clean_field(description, "description", max_length=MAX_BODY, multiline=True)
    window.scheduled_start = scheduled_start or window.scheduled_start
    window.scheduled_end = scheduled_end or window.scheduled_end
    _check_window(window.scheduled_start, window.scheduled_end)
    window.save()
    if services is not None:
        services = list(services)
        if not services:
            raise ValidationFailed("Name at least one service.", fields={"services": ["Choose at least one service."]})
        window.services.set(services)
    events.publish("maintenance.updated", public=was_public or window.visibility == Visibility.PUBLIC, maintenance_id=window.pk)
    return window


@transaction.atomic
def maintenance_cancel_scheduled(*, window: MaintenanceWindow | int, by: Any) -> None:
    """Remove a window that has not started (it never happened, so it leaves no
    history); one that started is completed instead, through its status."""
    pk = window if isinstance(window, int) else window.pk
    locked = MaintenanceWindow.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        return
    if locked.status != M.SCHEDULED:
        raise InvalidTransition(
            "This maintenance has started; complete it instead.", current=locked.status, requested="deleted", allowed=()
        )
    public = locked.visibility == Visibility.PUBLIC
    locked.delete()
    events.publish("maintenance.cancelled", public=public, maintenance_id=pk)


@transaction.atomic
def maintenance_change_status(*, window: MaintenanceWindow | int, status: str, by: Any) -> MaintenanceWindow:
    pk = window if isinstance(window, int) else window.pk
    window = MaintenanceWindow.objects.select_for_update().get(pk=pk)
    if status not in M.values:
        raise ValidationFailed("Unknown status.", fields={"status": [f"Choose one of {M.values}."]})
    allowed = MAINTENANCE_TRANSITIONS[window.status]
    if status not in allowed:
        raise InvalidTransition(
            f"A maintenance window cannot go from {window.status} to {status}.",
            current=window.status,
            requested=status,
            allowed=allowed,
        )
    now = timezone.now()
    if status == M.IN_PROGRESS and window.started_at is None:
        window.started_at = now
    if status == M.COMPLETED:
        window.completed_at = now
    window.status = status
    window.save()
    events.publish("maintenance.status_changed", public=window.visibility == Visibility.PUBLIC, maintenance_id=window.pk)
    return window
