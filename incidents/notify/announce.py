"""What status page subscribers are told, and when: an incident made public, each
public update, the resolution, and maintenance (the notice, its start, its completion).

Bodies come from the message templates a manager chose for subscribers
(`SubscriberMessage`), else from the built-in wording below, filled in by
`incidents.templating` with public values only: the incident's title and public
services, the public update's text, public links. Internal notes, internal services
and internal incidents or windows have no placeholder and never reach a subscriber.

Each announcement has a unique key (`update:42`, `maintenance:7:started`), so an event
handled twice, or a maintenance sweep run twice, announces once.

Maintenance notices: a public window is announced once the notice period before its
start is reached (`MAINTENANCE_NOTICE_HOURS`, default 72): at once when it is
scheduled closer to its start than that, otherwise by the beat sweep.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import events, templating
from incidents.models import (
    Incident,
    IncidentStatus,
    MaintenanceStatus,
    MaintenanceWindow,
    MessageTemplateKind,
    Notification,
    PublicUpdate,
    SubscriberMessage,
    Visibility,
)
from portal.text import clean_text

log = logging.getLogger(__name__)

K = MessageTemplateKind
DEFAULT_BODIES: dict[str, str] = {  # keyed by MessageTemplateKind values
    K.INITIAL: "We are investigating an issue affecting {services}.\n\nFollow it on {incident_url}",
    K.UPDATE: "{update}\n\nFollow it on {incident_url}",
    K.RESOLUTION: "This incident has been resolved. It lasted {duration}.\n\n{incident_url}",
    K.MAINTENANCE_NOTICE: "Maintenance is scheduled for {window}.\nAffected: {services}\n\n{impact}",
    K.MAINTENANCE_START: "The scheduled maintenance has started ({window}).\nAffected: {services}",
    K.MAINTENANCE_COMPLETION: "The scheduled maintenance is complete.\nAffected: {services}",
}
# The event name stored on the notification (and sent to webhook subscribers) per kind.
EVENTS: dict[str, str] = {
    K.INITIAL: "opened", K.UPDATE: "update", K.RESOLUTION: "resolved",
    K.MAINTENANCE_NOTICE: "maintenance_scheduled", K.MAINTENANCE_START: "maintenance_started",
    K.MAINTENANCE_COMPLETION: "maintenance_completed",
}


def notice_period() -> timedelta:
    return timedelta(hours=getattr(settings, "MAINTENANCE_NOTICE_HOURS", 72))


def template_body(kind: str) -> str:
    chosen = SubscriberMessage.objects.filter(kind=kind).select_related("template").first()
    return chosen.template.body if chosen is not None else DEFAULT_BODIES[kind]


def _render(kind: str, values: dict[str, str]) -> str:
    # keep_missing: a template naming a value we do not have ({next_update}) shows it as written
    # rather than losing the message
    return templating.fill(template_body(kind), values, kind=kind, keep_missing=True)


def incident_message(incident: Incident, kind: str, update: PublicUpdate | None = None) -> tuple[str, str]:
    latest = update or incident.public_updates.order_by("-display_at", "-id").first()
    status = update.status if update is not None else incident.status
    values = templating.incident_values(incident, status=status, tz=templating.zone(None))
    values["update"] = latest.body if latest is not None else ""
    label = str(IncidentStatus(status).label) if status in IncidentStatus.values else status
    return f"{incident.title}: {label}", _render(kind, values)


def maintenance_message(window: MaintenanceWindow, kind: str) -> tuple[str, str]:
    values = templating.maintenance_values(window, tz=templating.zone(None))
    prefixes: dict[str, str] = {K.MAINTENANCE_NOTICE: "Scheduled maintenance", K.MAINTENANCE_START: "Maintenance started",
                                K.MAINTENANCE_COMPLETION: "Maintenance completed"}
    prefix = prefixes[kind]
    return f"{prefix}: {window.title}", _render(kind, values)


def _incident_announcement(event: events.DomainEvent) -> tuple[str, str, Incident, PublicUpdate | None] | None:
    """(kind, key, incident, update) for a public change of a public incident."""
    if event.incident_id is None:
        return None
    incident = Incident.objects.select_related("severity").filter(pk=event.incident_id, visibility=Visibility.PUBLIC).first()
    if incident is None:
        return None
    if event.kind == "incident.public_update_posted":
        update = PublicUpdate.objects.filter(pk=int(event.data.get("public_update_id") or 0), incident=incident).first()
        if update is None or update.status == IncidentStatus.RESOLVED:
            return None  # the resolution message says it (it quotes this update)
        return K.UPDATE, f"update:{update.pk}", incident, update
    if event.kind == "incident.declared" or (event.kind == "incident.visibility_changed" and event.data.get("visibility") == Visibility.PUBLIC):
        return K.INITIAL, f"incident:{incident.pk}:public", incident, None
    if (event.kind == "incident.status_changed" and event.data.get("status") == IncidentStatus.RESOLVED
            and incident.status == IncidentStatus.RESOLVED and incident.resolved_at):
        return K.RESOLUTION, f"incident:{incident.pk}:resolved:{incident.resolved_at:%Y%m%dT%H%M%S.%f}", incident, None
    return None


def on_event(event: events.DomainEvent) -> None:
    if not event.public:
        return
    if event.kind.startswith("incident.") and event.incident_id is not None:
        found = _incident_announcement(event)
        if found is None:
            return
        kind, key, incident, update = found
        subject, body = incident_message(incident, kind, update)
        services = list(incident.services.filter(visibility=Visibility.PUBLIC).values_list("pk", flat=True))
        announce(kind, key, subject, body, incident=incident, service_ids=services)
    elif event.kind.startswith("maintenance."):
        window = MaintenanceWindow.objects.filter(pk=int(event.data.get("maintenance_id") or 0), visibility=Visibility.PUBLIC).first()
        if window is None:
            return
        if event.kind in ("maintenance.scheduled", "maintenance.updated"):
            maintenance_notice(window, now=timezone.now())
        elif event.kind == "maintenance.status_changed":
            maintenance_progress(window)


def maintenance_notice(window: MaintenanceWindow, *, now: Any) -> bool:
    """The notice of a scheduled public window, once its notice period has begun."""
    if window.visibility != Visibility.PUBLIC or window.status != MaintenanceStatus.SCHEDULED:
        return False
    if now < window.scheduled_start - notice_period():
        return False
    return _announce_window(window, K.MAINTENANCE_NOTICE, f"maintenance:{window.pk}:scheduled")


def maintenance_progress(window: MaintenanceWindow) -> bool:
    """Started when it first goes in progress; completed when it ends after having started
    (a window cancelled before it started is not "completed")."""
    if window.status in (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING):
        return _announce_window(window, K.MAINTENANCE_START, f"maintenance:{window.pk}:started")
    if window.status == MaintenanceStatus.COMPLETED and window.started_at is not None:
        return _announce_window(window, K.MAINTENANCE_COMPLETION, f"maintenance:{window.pk}:completed")
    return False


def _announce_window(window: MaintenanceWindow, kind: str, key: str) -> bool:
    if Notification.objects.filter(key=key).exists():
        return False
    subject, body = maintenance_message(window, kind)
    services = list(window.services.filter(visibility=Visibility.PUBLIC).values_list("pk", flat=True))
    return announce(kind, key, subject, body, incident=None, service_ids=services, maintenance_id=window.pk)


def maintenance_notices_sweep(*, now: Any = None) -> int:
    """From beat: notices of public windows whose notice period began since the last run."""
    now = now or timezone.now()
    due = MaintenanceWindow.objects.filter(
        visibility=Visibility.PUBLIC, status=MaintenanceStatus.SCHEDULED,
        scheduled_start__lte=now + notice_period(), scheduled_end__gt=now,
    ).order_by("scheduled_start")[:200]
    return sum(maintenance_notice(window, now=now) for window in due)


def announce(kind: str, key: str, subject: str, body: str, *, incident: Incident | None, service_ids: list[int],
             maintenance_id: int | None = None) -> bool:
    """Store the announcement (once per key) and fan it out after commit."""
    try:
        with transaction.atomic():
            n = Notification.objects.create(
                kind=Notification.Kind.PUBLIC, incident=incident, event=EVENTS[kind], key=key,
                subject=clean_text(subject, max_length=250), body=clean_text(body, max_length=20_000, multiline=True),
                details={"services": service_ids, "maintenance": maintenance_id},
            )
            transaction.on_commit(partial(_fan_out_task, n.pk))
    except IntegrityError:
        return False  # announced already
    return True


def _fan_out_task(notification_id: int) -> None:
    from incidents.notify.tasks import fan_out

    try:
        fan_out.delay(notification_id)
    except Exception:  # noqa: BLE001 - the sweeper fans out notifications that have no deliveries yet
        log.warning("could not enqueue the fan-out of notification %s", notification_id, exc_info=True)


@transaction.atomic
def subscriber_message_choose(*, kind: str, template: Any, by: Any) -> None:
    """Subscribers receive `template` for `kind` from now on (None: the built-in wording)."""
    from portal.errors import ValidationFailed

    if kind not in DEFAULT_BODIES:
        raise ValidationFailed("Unknown kind of message.", fields={"kind": [f"Choose one of {', '.join(DEFAULT_BODIES)}."]})
    if template is None:
        SubscriberMessage.objects.filter(kind=kind).delete()
        return
    if template.kind != kind:
        raise ValidationFailed("That template is for another kind of message.", fields={kind: [f"Choose a template of kind {kind}."]})
    SubscriberMessage.objects.update_or_create(kind=kind, defaults={"template": template})


def subscriber_messages() -> list[dict[str, Any]]:
    """Per kind: the template in use (or None) and the body subscribers get."""
    chosen = {m.kind: m.template for m in SubscriberMessage.objects.select_related("template")}
    return [{"kind": kind, "label": K(kind).label, "template": chosen.get(kind),
             "body": chosen[kind].body if kind in chosen else DEFAULT_BODIES[kind]} for kind in DEFAULT_BODIES]
