"""Reminders (no public update for N minutes, postmortem due) and the organisation's
channels (Slack, Teams, webhooks, PagerDuty) told when an incident triggers, is
acknowledged and is resolved."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from incidents import events
from incidents.models import (
    Channel,
    Incident,
    IncidentRole,
    IncidentStatus,
    Notification,
    Postmortem,
    PostmortemStatus,
    Reminder,
    RoleAssignment,
    SeverityPaging,
    TimelineKind,
)
from incidents.notify import services as notify
from incidents.services import incident_record_event

User = get_user_model()

_CHANNEL_EVENTS = {"incident.declared", "incident.acknowledged", "incident.status_changed", "incident.severity_changed",
                   "incident.note_added", "incident.role_changed", "incident.public_update_posted", "incident.impact_changed"}
_VERB = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}


def channels_on_event(event: events.DomainEvent) -> None:
    if event.kind not in _CHANNEL_EVENTS or event.incident_id is None:
        return
    with transaction.atomic():
        incident = Incident.objects.select_for_update().filter(pk=event.incident_id).first()
        if incident is None:
            return
        last = (Notification.objects.filter(incident=incident, kind=Notification.Kind.INCIDENT)
                .order_by("-created_at", "-id").values_list("event", flat=True).first())
        if incident.status == IncidentStatus.RESOLVED:
            wanted = "resolve" if last in ("trigger", "acknowledge") else None
        elif last in (None, "resolve"):
            wanted = "trigger"
        elif last == "trigger" and incident.acknowledged_at is not None:
            wanted = "acknowledge"
        else:
            wanted = None
        if wanted is None or not Channel.objects.filter(enabled=True, severities=incident.severity_id).exists():
            return
        notification = notify.notification_create(
            kind=Notification.Kind.INCIDENT, incident=incident, event=wanted,
            subject=f"[{incident.severity.name}] {incident.reference} {incident.title}: {_VERB[wanted]}",
            body=f"Status: {incident.get_status_display()}.",
        )
        deliveries = notify.deliveries_for_channels(notification, severity_id=incident.severity_id, now=timezone.now())
        notify.enqueue(deliveries)


def _recipients(incident: Incident) -> list[Any]:
    commander = (RoleAssignment.objects.filter(incident=incident, role=IncidentRole.COMMANDER, ended_at__isnull=True)
                 .select_related("user").first())
    if commander is not None:
        return [commander.user]
    return [incident.created_by] if incident.created_by_id else []


def _remind(incident: Incident, key: str, subject: str, people: list[Any]) -> bool:
    with transaction.atomic():
        try:
            with transaction.atomic():
                Reminder.objects.create(incident=incident, key=key)
        except IntegrityError:
            return False  # sent already (by another sweeper run)
        notification = notify.notification_create(kind=Notification.Kind.REMINDER, incident=incident, event="reminder",
                                                   subject=subject, body=subject)
        now = timezone.now()
        deliveries = [d for person in people if person is not None for d in notify.deliveries_for_user(notification, person, now=now)]
        incident_record_event(incident=incident, kind=TimelineKind.SYSTEM, body=f"Reminder: {subject}",
                              details={"reminder": {"key": key, "users": [p.pk for p in people if p is not None]}})
        notify.enqueue(deliveries)
    return True


def reminders_sweep(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    sent = 0
    for paging in SeverityPaging.objects.exclude(update_reminder_minutes=None, postmortem_due_hours=None).select_related("severity"):
        if paging.update_reminder_minutes:
            every = timedelta(minutes=paging.update_reminder_minutes)
            incidents = Incident.objects.open().filter(severity_id=paging.severity_id).annotate(
                last_update=Max("public_updates__display_at"))
            for incident in incidents:
                last = max(incident.started_at, incident.last_update or incident.started_at)
                silent = int((now - last) // every)
                if silent >= 1:
                    minutes = paging.update_reminder_minutes * silent
                    sent += _remind(incident, f"update:{incident.pk}:{int(last.timestamp())}:{silent}",
                                    f"{incident.reference}: no public update for {minutes} minutes", _recipients(incident))
        if paging.postmortem_due_hours:
            sent += _postmortem_reminders(paging, now)
    return sent


def _postmortem_reminders(paging: SeverityPaging, now: datetime) -> int:
    window = timedelta(hours=paging.postmortem_due_hours or 0)
    early = min(window / 4, timedelta(hours=24))
    sent = 0
    resolved = Incident.objects.filter(severity_id=paging.severity_id, status=IncidentStatus.RESOLVED,
                                       resolved_at__gte=now - window - timedelta(days=30))
    for incident in resolved:
        postmortem = Postmortem.objects.filter(incident=incident).select_related("owner").first()
        if postmortem is not None and postmortem.status == PostmortemStatus.PUBLISHED:
            continue
        due = incident.resolved_at + window
        people = [postmortem.owner] if postmortem is not None and postmortem.owner_id else _recipients(incident)
        stamp = int(incident.resolved_at.timestamp())
        if now >= due:
            sent += _remind(incident, f"pm-after:{incident.pk}:{stamp}",
                            f"{incident.reference}: the postmortem was due {due:%Y-%m-%d %H:%M} UTC", people)
        elif now >= due - early:
            sent += _remind(incident, f"pm-before:{incident.pk}:{stamp}",
                            f"{incident.reference}: the postmortem is due {due:%Y-%m-%d %H:%M} UTC", people)
    return sent

