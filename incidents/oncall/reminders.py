"""Reminders (no public update for N minutes, postmortem due), handoff summaries, and the organisation's
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
    Schedule,
    SeverityPaging,
    TimelineKind,
)
from incidents.notify import services as notify
from incidents.oncall.schedules import final_shifts
from incidents.services import incident_record_event
from portal.models import display_name

User = get_user_model()

_CHANNEL_EVENTS = {"incident.declared", "incident.acknowledged", "incident.status_changed", "incident.severity_changed",
                   "incident.note_added", "incident.role_changed", "incident.public_update_posted", "incident.impact_changed"}
_VERB = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}


def channels_on_event(event: events.DomainEvent) -> None:
    if event.kind not in _CHANNEL_EVENTS or event.incident_id is None:
        return
    if not Channel.objects.filter(enabled=True).exists():
        return  # no organisation channel: nothing to lock or query
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


def _remind(incident: Incident | None, key: str, subject: str, people: list[Any], *, body: str = "", event: str = "reminder") -> bool:
    with transaction.atomic():
        try:
            with transaction.atomic():
                Reminder.objects.create(incident=incident, key=key)
        except IntegrityError:
            return False  # sent already (by another sweeper run)
        notification = notify.notification_create(kind=Notification.Kind.REMINDER, incident=incident, event=event,
                                                   subject=subject, body=body or subject)
        now = timezone.now()
        deliveries = [d for person in people if person is not None for d in notify.deliveries_for_user(notification, person, now=now)]
        if incident is not None:
            incident_record_event(incident=incident, kind=TimelineKind.SYSTEM, body=f"Reminder: {subject}",
                                  details={"reminder": {"key": key, "users": [p.pk for p in people if p is not None]}})
        notify.enqueue(deliveries)
    return True


HANDOFF_WINDOW = timedelta(minutes=15)


def handoffs_sweep(*, now: datetime | None = None) -> int:
    """At each shift change the outgoing and incoming person get a summary: the open
    incidents, and what was declared during the outgoing shift. A handoff found up to
    15 minutes late (beat was down) is still announced; each one once."""
    now = now or timezone.now()
    sent = 0
    for schedule in Schedule.objects.all():
        shifts = final_shifts(schedule, now - HANDOFF_WINDOW, now + timedelta(seconds=1))
        for before, after in zip(shifts, shifts[1:], strict=False):
            if before.user_id == after.user_id or before.end != after.start or not (now - HANDOFF_WINDOW < after.start <= now):
                continue
            outgoing_start = final_shifts(schedule, after.start - timedelta(days=14), after.start)[-1].start
            people = list(User.objects.filter(pk__in=[before.user_id, after.user_id], is_active=True))
            names = {u.pk: display_name(u) for u in people}
            subject = (f"Handoff {schedule.name}: {names.get(before.user_id, '?')} → {names.get(after.user_id, '?')}")
            sent += _remind(None, f"handoff:{schedule.pk}:{int(after.start.timestamp())}", subject, people,
                            body=_handoff_summary(outgoing_start, after.start), event="handoff")
    return sent


def _handoff_summary(start: datetime, end: datetime) -> str:
    open_incidents = list(Incident.objects.open().select_related("severity").order_by("severity__rank", "started_at")[:20])
    during = list(Incident.objects.filter(started_at__gte=start, started_at__lt=end).select_related("severity").order_by("started_at")[:20])
    lines = [f"Open incidents: {len(open_incidents)}"]
    lines += [f"- {i.reference} [{i.severity.name}] {i.title} ({i.get_status_display()})" for i in open_incidents]
    lines.append(f"Declared during the shift ({start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC): {len(during)}")
    lines += [f"- {i.reference} [{i.severity.name}] {i.title} ({i.get_status_display()})" for i in during]
    return "\n".join(lines)


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
        if incident.resolved_at is None:  # reopened since the query
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

