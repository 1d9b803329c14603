"""Postmortems: start from a template, edit sections, gate publishing on required sections."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents import events
from incidents.models import (
    ActionItem,
    ActionItemPriority,
    ActionItemStatus,
    Incident,
    Postmortem,
    PostmortemSection,
    PostmortemStatus,
    PostmortemTemplate,
    TimelineEvent,
    TimelineKind,
)
from incidents.services.text import MAX_TITLE, clean_field, clean_link
from portal.errors import Conflict, InvalidTransition, ValidationFailed
from portal.text import clean_text

DEFAULT_SECTIONS: list[dict[str, Any]] = [
    {"key": "summary", "title": "Summary", "required": True, "prompt": "What happened, in two or three sentences."},
    {"key": "impact", "title": "Impact", "required": True, "prompt": "Who was affected, how, and for how long."},
    {"key": "timeline", "title": "Timeline", "required": False, "prompt": "Prefilled from the incident's timeline."},
    {"key": "root-cause", "title": "Root cause", "required": True, "prompt": "Why it happened."},
    {"key": "contributing-factors", "title": "Contributing factors", "required": False, "prompt": ""},
    {"key": "went-well", "title": "What went well", "required": False, "prompt": ""},
    {"key": "went-badly", "title": "What went badly", "required": False, "prompt": ""},
    {"key": "lessons", "title": "Lessons learned", "required": False, "prompt": ""},
]

P = PostmortemStatus
MAX_SECTION = 100_000
MAX_LINK = 500
POSTMORTEM_TRANSITIONS: dict[str, tuple[str, ...]] = {
    P.DRAFT: (P.IN_REVIEW, P.PUBLISHED),
    P.IN_REVIEW: (P.DRAFT, P.PUBLISHED),
    P.PUBLISHED: (P.DRAFT,),
}

_PREFILL_KINDS = {
    TimelineKind.DECLARED,
    TimelineKind.STATUS_CHANGE,
    TimelineKind.SEVERITY_CHANGE,
    TimelineKind.IMPACT_CHANGE,
    TimelineKind.PUBLIC_UPDATE,
    TimelineKind.ALERT,
    TimelineKind.RUNBOOK_STEP,
}


def _timeline_markdown(incident: Incident) -> str:
    lines = []
    events_qs = TimelineEvent.objects.filter(incident=incident).order_by("occurred_at", "id")
    for event in events_qs:
        if event.kind not in _PREFILL_KINDS and not event.pinned:
            continue
        text = event.body or event.get_kind_display()
        if event.kind == TimelineKind.STATUS_CHANGE:
            text = f"Status {event.details.get('from')} → {event.details.get('to')}" + (f": {event.body}" if event.body else "")
        lines.append(f"- **{event.occurred_at:%Y-%m-%d %H:%M} UTC**: {text.splitlines()[0] if text else ''}")
    return "\n".join(lines)


@transaction.atomic
def postmortem_start(*, incident: Incident | int, by: Any, template: PostmortemTemplate | None = None) -> Postmortem:
    pk = incident if isinstance(incident, int) else incident.pk
    incident = Incident.objects.select_for_update().get(pk=pk)
    if Postmortem.objects.filter(incident=incident).exists():
        raise Conflict("This incident already has a postmortem.")
    template = template or PostmortemTemplate.objects.filter(is_default=True).first()
    sections = template.sections if template else DEFAULT_SECTIONS
    postmortem = Postmortem.objects.create(
        incident=incident, template=template, owner=by if getattr(by, "is_authenticated", False) else None
    )
    for position, spec in enumerate(sections):
        key = spec["key"]
        PostmortemSection.objects.create(
            postmortem=postmortem,
            key=key,
            title=clean_text(spec.get("title", key), max_length=120),
            prompt=clean_text(spec.get("prompt", ""), multiline=True),
            required=bool(spec.get("required", False)),
            position=position,
            body=_timeline_markdown(incident) if key == "timeline" else "",
        )
    TimelineEvent.objects.create(
        incident=incident, kind=TimelineKind.SYSTEM, author=by if getattr(by, "is_authenticated", False) else None,
        body="Postmortem started", details={"postmortem_id": postmortem.pk},
    )
    events.publish("postmortem.started", incident_id=incident.pk, public=False, postmortem_id=postmortem.pk)
    return postmortem


def _lock(postmortem: Postmortem | int) -> Postmortem:
    pk = postmortem if isinstance(postmortem, int) else postmortem.pk
    return Postmortem.objects.select_for_update().select_related("incident").get(pk=pk)


_UNSET: Any = object()
MAX_IMPACT_DURATION = timedelta(days=366)


def _check_impact(users_affected: Any, users_affected_percent: Any, impact_duration: Any, revenue_impact: Any) -> None:
    errors: dict[str, list[str]] = {}
    if users_affected not in (_UNSET, None) and users_affected < 0:
        errors["users_affected"] = ["Zero or more."]
    if users_affected_percent not in (_UNSET, None) and not Decimal(0) <= Decimal(users_affected_percent) <= Decimal(100):
        errors["users_affected_percent"] = ["A percentage, from 0 to 100."]
    if impact_duration not in (_UNSET, None) and not timedelta(0) <= impact_duration <= MAX_IMPACT_DURATION:
        errors["impact_duration"] = ["From zero to a year."]
    if revenue_impact not in (_UNSET, None) and Decimal(revenue_impact) < 0:
        errors["revenue_impact"] = ["Zero or more."]
    if errors:
        raise ValidationFailed("The impact figures are not valid.", fields=errors)


@transaction.atomic
def postmortem_update(
    *,
    postmortem: Postmortem | int,
    by: Any,
    sections: Mapping[str, str] | None = None,
    users_affected: int | None = _UNSET,
    users_affected_percent: Decimal | None = _UNSET,
    impact_duration: timedelta | None = _UNSET,
    revenue_impact: Decimal | None = _UNSET,
    owner: Any = None,
) -> Postmortem:
    """Section bodies and the reported impact. An impact figure left out is kept;
    given as None it is cleared."""
    _check_impact(users_affected, users_affected_percent, impact_duration, revenue_impact)
    postmortem = _lock(postmortem)
    if sections:
        existing = {s.key: s for s in postmortem.sections.all()}
        unknown = sorted(set(sections) - set(existing))
        if unknown:
            raise ValidationFailed("Unknown sections.", fields={"sections": [f"No section named {key!r}." for key in unknown]})
        bodies = {key: clean_field(body, f"sections.{key}", max_length=MAX_SECTION, multiline=True) for key, body in sections.items()}
        for key, body in bodies.items():
            section = existing[key]
            section.body = body
            section.save(update_fields=["body", "updated_at"])
    figures = {"users_affected": users_affected, "users_affected_percent": users_affected_percent,
               "impact_duration": impact_duration, "revenue_impact": revenue_impact}  # fmt: skip
    for name, value in figures.items():
        if value is not _UNSET:
            setattr(postmortem, name, value)
    if owner is not None:
        postmortem.owner = owner
    postmortem.save()
    events.publish("postmortem.updated", incident_id=postmortem.incident_id, public=postmortem.status == P.PUBLISHED,
                   postmortem_id=postmortem.pk)
    return postmortem


@transaction.atomic
def postmortem_change_status(*, postmortem: Postmortem | int, status: str, by: Any) -> Postmortem:
    postmortem = _lock(postmortem)
    if status not in P.values:
        raise ValidationFailed("Unknown status.", fields={"status": [f"Choose one of {P.values}."]})
    allowed = POSTMORTEM_TRANSITIONS[postmortem.status]
    if status not in allowed:
        raise InvalidTransition(
            f"A postmortem cannot go from {postmortem.status} to {status}.",
            current=postmortem.status, requested=status, allowed=allowed,
        )
    if status == P.PUBLISHED:
        if postmortem.incident.is_open:
            raise Conflict("Resolve the incident before publishing its postmortem.")
        empty = [s for s in postmortem.sections.all() if s.required and s.is_empty]
        if empty:
            raise Conflict(
                "Required sections are empty: " + ", ".join(s.title for s in empty) + ".",
                empty_sections=[s.key for s in empty],
            )
        postmortem.published_at = timezone.now()
    old = postmortem.status
    postmortem.status = status
    postmortem.save()
    TimelineEvent.objects.create(
        incident=postmortem.incident, kind=TimelineKind.SYSTEM,
        author=by if getattr(by, "is_authenticated", False) else None,
        body=f"Postmortem {P(status).label.lower()}", details={"postmortem_id": postmortem.pk, "from": old, "to": status},
    )
    events.publish("postmortem.status_changed", incident_id=postmortem.incident_id, public=True, postmortem_id=postmortem.pk)
    return postmortem


def _check_item(title: str | None, priority: str | None, status: str | None) -> None:
    if priority is not None and priority not in ActionItemPriority.values:
        raise ValidationFailed("Unknown priority.", fields={"priority": [f"Choose one of {ActionItemPriority.values}."]})
    if status is not None and status not in ActionItemStatus.values:
        raise ValidationFailed("Unknown status.", fields={"status": [f"Choose one of {ActionItemStatus.values}."]})


@transaction.atomic
def action_item_create(
    *,
    postmortem: Postmortem | int,
    title: str,
    by: Any,
    owner: Any = None,
    due_date: date | None = None,
    priority: str = ActionItemPriority.MEDIUM,
    external_url: str = "",
) -> ActionItem:
    title = clean_field(title, "title", max_length=MAX_TITLE, required=True)
    external_url = clean_link(external_url, "external_url", max_length=MAX_LINK)
    _check_item(title, priority, None)
    postmortem = _lock(postmortem)
    item = ActionItem.objects.create(
        postmortem=postmortem, title=title, owner=owner, due_date=due_date, priority=priority, external_url=external_url
    )
    events.publish("postmortem.action_item_changed", incident_id=postmortem.incident_id, public=False, action_item_id=item.pk)
    return item


@transaction.atomic
def action_item_update(
    *,
    item: ActionItem | int,
    by: Any,
    title: str | None = None,
    owner: Any = _UNSET,
    due_date: Any = _UNSET,
    priority: str | None = None,
    status: str | None = None,
    external_url: str | None = None,
) -> ActionItem:
    if title is not None:
        title = clean_field(title, "title", max_length=MAX_TITLE, required=True)
    if external_url is not None:
        external_url = clean_link(external_url, "external_url", max_length=MAX_LINK)
    _check_item(title, priority, status)
    pk = item if isinstance(item, int) else item.pk
    item = ActionItem.objects.select_for_update().get(pk=pk)
    if title is not None:
        item.title = title
    if owner is not _UNSET:
        item.owner = owner
    if due_date is not _UNSET:
        item.due_date = due_date
    if priority is not None:
        item.priority = priority
    if status is not None:
        item.status = status
    if external_url is not None:
        item.external_url = external_url
    item.save()
    events.publish("postmortem.action_item_changed", incident_id=item.postmortem.incident_id, public=False, action_item_id=item.pk)
    return item
