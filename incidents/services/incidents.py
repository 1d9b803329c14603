"""Incident workflows: declare, change status/severity/roles/impact, notes, public updates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import events
from incidents.models import (
    Impact,
    Incident,
    IncidentRole,
    IncidentService,
    IncidentStatus,
    PublicUpdate,
    PublicUpdateComponent,
    RoleAssignment,
    Service,
    Severity,
    Tag,
    TimelineEvent,
    TimelineKind,
    Visibility,
)
from incidents.services.text import MAX_BODY, MAX_TITLE, clean_field
from portal.errors import Conflict, InvalidTransition, ValidationFailed
from portal.markdown import render_markdown
from portal.models import OrgRole, display_name, has_role
from portal.text import clean_text

User = AbstractBaseUser

S = IncidentStatus
# Forward skips are allowed (a fix can be obvious); stepping back is allowed while
# open (the fix did not hold); a resolved incident only reopens, with a reason.
ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.INVESTIGATING: (S.IDENTIFIED, S.MONITORING, S.RESOLVED),
    S.IDENTIFIED: (S.INVESTIGATING, S.MONITORING, S.RESOLVED),
    S.MONITORING: (S.INVESTIGATING, S.IDENTIFIED, S.RESOLVED),
    S.RESOLVED: (S.INVESTIGATING,),
}


def _lock(incident: Incident | int) -> Incident:
    """Re-read the incident under a row lock: concurrent changes to one incident queue
    here instead of overwriting each other's fields (SQLite gets the same from its
    IMMEDIATE transactions)."""
    pk = incident if isinstance(incident, int) else incident.pk
    # No select_related here: after waiting for the lock, PostgreSQL re-checks the
    # row against the join, and a concurrent severity change makes the joined
    # severity row stop matching, so the locked read would find no incident.
    return Incident.objects.select_for_update().get(pk=pk)


def _user_id(user: Any) -> int | None:
    return user.pk if user is not None and getattr(user, "is_authenticated", False) else None


def _event(
    incident: Incident,
    kind: str,
    *,
    by: Any,
    body: str = "",
    details: dict[str, Any] | None = None,
    pinned: bool = False,
    occurred_at: datetime | None = None,
) -> TimelineEvent:
    return TimelineEvent.objects.create(
        incident=incident,
        kind=kind,
        author_id=_user_id(by),
        body=body,
        details=details or {},
        pinned=pinned,
        occurred_at=occurred_at or timezone.now(),
    )


def _touch(incident: Incident, by: Any, now: datetime, fields: list[str]) -> None:
    """The first human action on an incident acknowledges it (the start of MTTA)."""
    if incident.acknowledged_at is None and _user_id(by) is not None:
        incident.acknowledged_at = now
        fields.append("acknowledged_at")
    fields.append("updated_at")
    incident.save(update_fields=fields)


def _publish(kind: str, incident: Incident, *, public: bool, **data: Any) -> None:
    events.publish(kind, incident_id=incident.pk, public=public and incident.is_public, **data)


@transaction.atomic
def incident_declare(
    *,
    title: str,
    severity: Severity,
    by: Any,
    summary: str = "",
    visibility: str = Visibility.INTERNAL,
    impacts: Mapping[Service, str] | None = None,
    commander: Any = None,
    tags: Iterable[str] = (),
    started_at: datetime | None = None,
) -> Incident:
    title = clean_field(title, "title", max_length=MAX_TITLE, required=True)
    summary = clean_field(summary, "summary", max_length=MAX_BODY, multiline=True)
    if visibility not in Visibility.values:
        raise ValidationFailed("Unknown visibility.", fields={"visibility": [f"Choose one of {Visibility.values}."]})
    now = timezone.now()
    started = started_at or now
    if started > now:
        raise ValidationFailed("An incident cannot start in the future.", fields={"started_at": ["Must not be in the future."]})
    incident = Incident.objects.create(
        title=title,
        summary=summary,
        severity=severity,
        visibility=visibility,
        started_at=started,
        created_by_id=_user_id(by),
    )
    _event(
        incident,
        TimelineKind.DECLARED,
        by=by,
        body=f"Declared {severity.name}: {title}",
        details={"severity": severity.name, "visibility": visibility},
        occurred_at=started,
    )
    for service, impact in (impacts or {}).items():
        # From the start: a backdated declaration says the impact began then.
        _set_impact(incident, service, impact, by=by, occurred_at=started)
    if tags:
        incident.tags.set(_tags(tags))
    if commander is not None:
        _assign(incident, IncidentRole.COMMANDER, commander, by=by, now=now)
        incident.acknowledged_at = now
        incident.save(update_fields=["acknowledged_at"])
    _publish("incident.declared", incident, public=True)
    return incident


def _tags(names: Iterable[str]) -> list[Tag]:
    out = []
    for name in names:
        slug = clean_text(name).lower().replace(" ", "-")[:64]
        if slug:
            out.append(Tag.objects.get_or_create(name=slug)[0])
    return out


# What the public reads when a public incident is resolved or reopened without a
# public update: the status page shows the status of the latest update (as
# Statuspage does), so these two changes always come with one.
AUTOMATIC_UPDATES: dict[str, str] = {
    S.RESOLVED: "This incident has been resolved.",
    S.INVESTIGATING: "We are investigating this issue again.",
}


@transaction.atomic
def incident_change_status(
    *, incident: Incident | int, status: str, by: Any, reason: str = "", note: str = "", announce: bool = True
) -> Incident:
    """Move the incident to `status`. On a public incident, resolving and reopening
    also post a short public update (unless `announce` is False: the caller posts
    its own), so that the status page never shows an incident that is over as
    active, nor the other way round."""
    incident = _lock(incident)
    current = incident.status
    allowed = ALLOWED_TRANSITIONS[current]
    if status not in IncidentStatus.values:
        raise ValidationFailed("Unknown status.", fields={"status": [f"Choose one of {IncidentStatus.values}."]})
    if status not in allowed:
        raise InvalidTransition(
            f"An incident cannot go from {current} to {status}.", current=current, requested=status, allowed=allowed
        )
    reopening = current == S.RESOLVED
    reason = clean_field(reason, "reason", max_length=MAX_BODY, multiline=True)
    note = clean_field(note, "note", max_length=MAX_BODY, multiline=True)
    if reopening and not reason:
        raise ValidationFailed("Reopening a resolved incident needs a reason.", fields={"reason": ["A reason is required to reopen."]})
    now = timezone.now()
    incident.status = status
    fields = ["status"]
    if status == S.IDENTIFIED and incident.identified_at is None:
        incident.identified_at = now
        fields.append("identified_at")
    if status == S.MONITORING and incident.mitigated_at is None:
        incident.mitigated_at = now
        fields.append("mitigated_at")
    if status == S.RESOLVED:
        incident.resolved_at = now
        fields.append("resolved_at")
        if incident.mitigated_at is None:
            # Resolving is also mitigating; without this MTTM would be undefined
            # for incidents resolved straight from investigating.
            incident.mitigated_at = now
            fields.append("mitigated_at")
    if reopening:
        incident.resolved_at = None
        fields.append("resolved_at")
    _touch(incident, by, now, fields)
    _event(
        incident,
        TimelineKind.STATUS_CHANGE,
        by=by,
        body=note or reason,
        details={"from": current, "to": status, "reason": reason, "reopened": reopening},
        occurred_at=now,
    )
    _publish("incident.status_changed", incident, public=True, status=status)
    if announce and incident.is_public and (status == S.RESOLVED or reopening):
        _post_update(incident, AUTOMATIC_UPDATES[status], by=by, now=now, automatic=True)
    return incident


@transaction.atomic
def incident_change_severity(*, incident: Incident | int, severity: Severity, by: Any, reason: str = "") -> Incident:
    reason = clean_field(reason, "reason", max_length=MAX_BODY, multiline=True)
    incident = _lock(incident)
    old = incident.severity
    if old.pk == severity.pk:
        raise Conflict(f"The incident is already {severity.name}.", current=severity.name)
    incident.severity = severity
    now = timezone.now()
    _touch(incident, by, now, ["severity"])
    _event(
        incident,
        TimelineKind.SEVERITY_CHANGE,
        by=by,
        body=reason,
        details={"from": old.name, "to": severity.name, "escalated": severity.rank < old.rank},
        occurred_at=now,
    )
    _publish("incident.severity_changed", incident, public=True, severity=severity.name)
    return incident


def _assign(incident: Incident, role: str, user: Any, *, by: Any, now: datetime) -> tuple[Any, Any]:
    current = RoleAssignment.objects.select_related("user").filter(incident=incident, role=role, ended_at__isnull=True).first()
    previous = current.user if current else None
    if previous is not None and user is not None and previous.pk == user.pk:
        raise Conflict(f"{user} already holds this role.", role=role)
    if previous is None and user is None:
        raise Conflict("Nobody holds this role.", role=role)
    if user is not None and not has_role(user, OrgRole.RESPONDER):
        # Viewers read; they do not command. The pages offer only responders, and
        # the API and every other caller meet the same rule here.
        raise ValidationFailed(
            f"{display_name(user)} is a viewer and cannot hold an incident role.",
            fields={"user": ["Choose a responder or a manager."]},
        )
    if current is not None:
        current.ended_at = now
        current.save(update_fields=["ended_at"])
    if user is not None:
        try:
            with transaction.atomic():
                RoleAssignment.objects.create(incident=incident, role=role, user=user, assigned_by_id=_user_id(by), started_at=now)
        except IntegrityError:
            raise Conflict("The role was assigned by someone else at the same moment; reload and retry.", role=role) from None
    label = IncidentRole(role).label
    if user is None:
        body = f"{display_name(previous)} is no longer {label}"
    elif previous is None:
        body = f"{display_name(user)} is now {label}"
    else:
        body = f"{display_name(user)} took over as {label} from {display_name(previous)}"
    _event(
        incident,
        TimelineKind.ROLE_CHANGE,
        by=by,
        body=body,
        details={
            "role": role,
            "from_user": previous.pk if previous else None,
            "from": display_name(previous) if previous else None,
            "to_user": user.pk if user else None,
            "to": display_name(user) if user else None,
        },
        occurred_at=now,
    )
    return previous, user


@transaction.atomic
def incident_assign_role(*, incident: Incident | int, role: str, user: Any, by: Any) -> Incident:
    """Give `role` to `user`, or take it from its holder when `user` is None."""
    if role not in IncidentRole.values:
        raise ValidationFailed("Unknown role.", fields={"role": [f"Choose one of {IncidentRole.values}."]})
    if user is not None and not user.is_active:
        raise ValidationFailed("That user is inactive.", fields={"user": ["Choose an active user."]})
    incident = _lock(incident)
    now = timezone.now()
    _assign(incident, role, user, by=by, now=now)
    _touch(incident, by, now, [])
    _publish("incident.role_changed", incident, public=False, role=role)
    return incident


def _set_impact(
    incident: Incident, service: Service, impact: str | None, *, by: Any, occurred_at: datetime | None = None
) -> tuple[str, str] | None:
    if impact is not None and (impact not in Impact.values or impact == Impact.OPERATIONAL):
        allowed = [v for v in Impact.values if v != Impact.OPERATIONAL]
        raise ValidationFailed("Unknown impact.", fields={"impact": [f"Choose one of {allowed}, or null to remove."]})
    row = IncidentService.objects.filter(incident=incident, service=service).first()
    old = row.impact if row else Impact.OPERATIONAL
    new = impact or Impact.OPERATIONAL
    if old == new:
        return None
    if impact is None:
        assert row is not None
        row.delete()
    elif row is None:
        IncidentService.objects.create(incident=incident, service=service, impact=impact)
    else:
        row.impact = impact
        row.save(update_fields=["impact", "updated_at"])
    _event(
        incident,
        TimelineKind.IMPACT_CHANGE,
        by=by,
        body=f"{service.name}: {Impact(old).label} → {Impact(new).label}",
        details={"service": service.slug, "service_id": service.pk, "from": old, "to": new},
        occurred_at=occurred_at,
    )
    return old, new


@transaction.atomic
def incident_set_impact(*, incident: Incident | int, service: Service, impact: str | None, by: Any) -> Incident:
    """Set how a service is impacted; None removes it from the incident."""
    incident = _lock(incident)
    if _set_impact(incident, service, impact, by=by) is None:
        raise Conflict(f"{service.name} already has that impact.")
    _touch(incident, by, timezone.now(), [])
    _publish("incident.impact_changed", incident, public=service.is_public, service_id=service.pk)
    return incident


@transaction.atomic
def incident_change_visibility(*, incident: Incident | int, visibility: str, by: Any) -> Incident:
    if visibility not in Visibility.values:
        raise ValidationFailed("Unknown visibility.", fields={"visibility": [f"Choose one of {Visibility.values}."]})
    incident = _lock(incident)
    old = incident.visibility
    if old == visibility:
        raise Conflict(f"The incident is already {visibility}.")
    incident.visibility = visibility
    _touch(incident, by, timezone.now(), ["visibility"])
    _event(incident, TimelineKind.VISIBILITY_CHANGE, by=by, details={"from": old, "to": visibility})
    # Going internal must reach the public surfaces too, so that they drop it.
    events.publish("incident.visibility_changed", incident_id=incident.pk, public=True, visibility=visibility)
    return incident


@transaction.atomic
def incident_update_details(
    *, incident: Incident | int, by: Any, title: str | None = None, summary: str | None = None, tags: Iterable[str] | None = None
) -> Incident:
    if title is not None:
        title = clean_field(title, "title", max_length=MAX_TITLE, required=True)
    if summary is not None:
        summary = clean_field(summary, "summary", max_length=MAX_BODY, multiline=True)
    incident = _lock(incident)
    changes: dict[str, Any] = {}
    fields: list[str] = []
    if title is not None:
        if title != incident.title:
            changes["title"] = {"from": incident.title, "to": title}
            incident.title = title
            fields.append("title")
    if summary is not None and summary != incident.summary:
        changes["summary"] = {"from": incident.summary, "to": summary}
        incident.summary = summary
        fields.append("summary")
    if tags is not None:
        new_tags = _tags(tags)
        old_names = sorted(incident.tags.values_list("name", flat=True))
        new_names = sorted(t.name for t in new_tags)
        if old_names != new_names:
            incident.tags.set(new_tags)
            changes["tags"] = {"from": old_names, "to": new_names}
    if not changes:
        return incident
    _touch(incident, by, timezone.now(), fields)
    _event(incident, TimelineKind.SYSTEM, by=by, body="Details edited", details={"changes": changes})
    _publish("incident.details_changed", incident, public="title" in changes)
    return incident


@transaction.atomic
def incident_acknowledge(*, incident: Incident | int, by: Any) -> Incident:
    incident = _lock(incident)
    if incident.acknowledged_at is not None:
        raise Conflict("The incident is already acknowledged.")
    now = timezone.now()
    incident.acknowledged_at = now
    incident.save(update_fields=["acknowledged_at", "updated_at"])
    _event(incident, TimelineKind.SYSTEM, by=by, body=f"Acknowledged by {display_name(by)}" if _user_id(by) else "Acknowledged",
           details={"acknowledged": True}, occurred_at=now)
    _publish("incident.acknowledged", incident, public=False)
    return incident


@transaction.atomic
def incident_add_note(*, incident: Incident | int, body: str, by: Any, pinned: bool = False) -> TimelineEvent:
    text = clean_field(body, "body", max_length=MAX_BODY, multiline=True, required=True)
    incident = _lock(incident)
    now = timezone.now()
    _touch(incident, by, now, [])
    event = _event(incident, TimelineKind.NOTE, by=by, body=text, pinned=pinned, occurred_at=now)
    _publish("incident.note_added", incident, public=False, event_id=event.pk)
    return event


@transaction.atomic
def incident_record_event(
    *, incident: Incident | int, kind: str, body: str = "", details: dict[str, Any] | None = None, by: Any = None
) -> TimelineEvent:
    """For other apps (alerts, probes, runbooks) to append to a timeline."""
    if kind not in TimelineKind.values:
        raise ValidationFailed("Unknown timeline event kind.", fields={"kind": [f"Choose one of {TimelineKind.values}."]})
    incident = _lock(incident)
    event = _event(incident, kind, by=by, body=clean_text(body, multiline=True), details=details)
    _publish("incident.event_recorded", incident, public=False, event_id=event.pk)
    return event


@transaction.atomic
def incident_record_events(
    *, incident: Incident | int, entries: Sequence[tuple[str, str, dict[str, Any]]], by: Any = None
) -> list[TimelineEvent]:
    """Append several (kind, body, details) events at once: one lock, one INSERT and
    one published event, for bursts such as the alerts of one notification."""
    for kind, _body, _details in entries:
        if kind not in TimelineKind.values:
            raise ValidationFailed("Unknown timeline event kind.", fields={"kind": [f"Choose one of {TimelineKind.values}."]})
    if not entries:
        return []
    incident = _lock(incident)
    now = timezone.now()
    created = TimelineEvent.objects.bulk_create(
        [
            TimelineEvent(incident=incident, kind=kind, author_id=_user_id(by), body=clean_text(body, multiline=True),
                          details=details or {}, occurred_at=now,
                          created_at=now)  # fmt: skip
            for kind, body, details in entries
        ]
    )
    _publish("incident.event_recorded", incident, public=False, count=len(created))
    return created


@transaction.atomic
def timeline_set_pinned(*, event: TimelineEvent | int, pinned: bool, by: Any) -> TimelineEvent:
    pk = event if isinstance(event, int) else event.pk
    event = TimelineEvent.objects.select_for_update().get(pk=pk)
    if event.pinned == pinned:
        return event
    event.pinned = pinned
    event.save(update_fields=["pinned"])
    events.publish("incident.event_pinned", incident_id=event.incident_id, public=False, event_id=event.pk)
    return event


@transaction.atomic
def incident_post_update(
    *,
    incident: Incident | int,
    body: str,
    by: Any,
    status: str | None = None,
    components: Mapping[Service, str | None] | None = None,
    display_at: datetime | None = None,
) -> PublicUpdate:
    """Post a public status update; it may also move the status and the impacted
    services' statuses, all recorded in one transaction."""
    text = clean_field(body, "body", max_length=MAX_BODY, multiline=True, required=True)
    incident = _lock(incident)
    if not incident.is_public:
        raise Conflict("This incident is internal: make it public before posting a public update.")
    if status is not None and status != incident.status:
        incident = incident_change_status(
            incident=incident, status=status, by=by, reason="" if incident.status != S.RESOLVED else text, announce=False
        )
    now = timezone.now()
    for service in components or {}:
        if not service.is_public:
            raise ValidationFailed(f"{service.name} is internal and cannot appear in a public update.", fields={"components": [service.slug]})
    update = _post_update(incident, text, by=by, now=now, display_at=display_at, components=components)
    _touch(incident, by, now, [])
    return update


def _post_update(
    incident: Incident,
    text: str,
    *,
    by: Any,
    now: datetime,
    display_at: datetime | None = None,
    components: Mapping[Service, str | None] | None = None,
    automatic: bool = False,
) -> PublicUpdate:
    """One public update at the incident's current status (the status the public
    then sees), its component changes, its timeline entry and its event."""
    update = PublicUpdate.objects.create(
        incident=incident,
        status=incident.status,
        body=text,
        body_html=render_markdown(text),
        display_at=display_at or now,
        author_id=_user_id(by),
    )
    for service, impact in (components or {}).items():
        change = _set_impact(incident, service, impact, by=by)
        if change is not None:
            PublicUpdateComponent.objects.create(update=update, service=service, old_status=change[0], new_status=change[1])
    details: dict[str, Any] = {"public_update_id": update.pk, "status": update.status}
    if automatic:
        details["automatic"] = True
    _event(incident, TimelineKind.PUBLIC_UPDATE, by=by, body=text, details=details, occurred_at=now)
    _publish("incident.public_update_posted", incident, public=True, public_update_id=update.pk)
    return update
