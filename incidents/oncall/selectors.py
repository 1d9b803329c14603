"""Reads for on-call pages and the API."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from incidents.models import Escalation, EscalationPolicy, Incident, Page, Schedule, Service
from incidents.oncall.schedules import Shift, final_shifts, on_call_at
from portal.models import display_name

TIMELINE_DAYS = 14


def schedule_list_qs() -> QuerySet[Schedule]:
    return Schedule.objects.select_related("team").prefetch_related("layers__members__user")


def on_call_now(schedule: Schedule) -> Any:
    user_id = on_call_at(schedule, timezone.now())
    return get_user_model().objects.filter(pk=user_id).first() if user_id else None


def next_shifts(schedule: Schedule, *, days: int = TIMELINE_DAYS) -> list[Shift]:
    now = timezone.now().replace(microsecond=0)
    return final_shifts(schedule, now, now + timedelta(days=days))


def user_shifts(user_id: int, *, days: int = TIMELINE_DAYS) -> list[Shift]:
    """A person's shifts in every schedule; `layer` carries the schedule id."""
    now = timezone.now().replace(microsecond=0)
    out: list[Shift] = []
    for schedule in Schedule.objects.filter(layers__members__user_id=user_id).distinct() | Schedule.objects.filter(
        overrides__user_id=user_id
    ).distinct():
        for s in final_shifts(schedule, now, now + timedelta(days=days)):
            if s.user_id == user_id:
                out.append(Shift(s.user_id, s.start, s.end, str(schedule.pk)))
    return sorted(set(out), key=lambda s: s.start)


def people_names(user_ids: Iterable[int]) -> dict[int, str]:
    return {u.pk: display_name(u) for u in get_user_model().objects.filter(pk__in=set(user_ids))}


def timeline_rows(schedule: Schedule, *, days: int = TIMELINE_DAYS) -> list[dict[str, Any]]:
    """The 14-day view: one row per shift, with its share of the window for a bar."""
    shifts = next_shifts(schedule, days=days)
    names = people_names(s.user_id for s in shifts)
    if not shifts:
        return []
    window = (shifts[-1].end - shifts[0].start).total_seconds() or 1
    origin = shifts[0].start
    return [
        {
            "user": names.get(s.user_id, "?"),
            "start": s.start,
            "end": s.end,
            "layer": s.layer,
            "offset": round((s.start - origin).total_seconds() / window * 100, 2),
            "width": max(round((s.end - s.start).total_seconds() / window * 100, 2), 0.5),
        }
        for s in shifts
    ]


def policy_list_qs() -> QuerySet[EscalationPolicy]:
    return EscalationPolicy.objects.prefetch_related("steps__users", "steps__schedules", "steps__teams", "services", "teams")


def paging_progress(incident: Incident) -> dict[str, Any] | None:
    """Who was paged when, through what, and whether it was acknowledged: for the war room."""
    escalation = Escalation.objects.filter(incident=incident).select_related("policy").first()
    if escalation is None:
        return None
    pages = list(Page.objects.filter(escalation=escalation).select_related("user").order_by("paged_at", "id"))
    from incidents.models import NotificationDelivery

    deliveries: dict[int, list[NotificationDelivery]] = {}
    for d in NotificationDelivery.objects.filter(incident=incident, user__isnull=False).order_by("created_at"):
        if d.user_id is not None:
            deliveries.setdefault(d.user_id, []).append(d)
    return {
        "escalation": escalation,
        "pages": [
            {"page": p, "name": display_name(p.user), "deliveries": deliveries.get(p.user_id, [])} for p in pages
        ],
    }


def on_call_for_services(services: Iterable[Service]) -> dict[int, list[str]]:
    """Service id → names of the people on call now through the first step of the service's
    policy (or its team's, or the default one)."""
    from incidents.oncall.paging import resolve_policy_for_services, step_targets

    now = timezone.now()
    default = EscalationPolicy.objects.filter(is_default=True).order_by("pk").first()
    out: dict[int, list[str]] = {}
    for service in services:
        policy = resolve_policy_for_services([service]) or default
        if policy is None:
            continue
        first = policy.steps.order_by("position").first()
        if first is None:
            continue
        people = step_targets(first, now)
        out[service.pk] = [display_name(user) for user, _via in people]
    return out


def on_call_board() -> list[dict[str, Any]]:
    """The dashboard's card: services in trouble (not operational) and who is on call for them."""
    from incidents.models import Impact
    from incidents.selectors import service_statuses

    troubled = [pk for pk, status in service_statuses().items() if status not in (Impact.OPERATIONAL, Impact.UNDER_MAINTENANCE)]
    services = list(Service.objects.filter(pk__in=troubled))
    people = on_call_for_services(services)
    return [{"service": s, "people": people.get(s.pk, [])} for s in services]
