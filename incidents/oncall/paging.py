"""Escalation: an incident at a paging severity pages its policy's steps until someone
acknowledges or it is resolved.

The state is stored (`Escalation.next_step`, `next_due_at`); a step is claimed with a
conditional UPDATE in the same transaction that records its pages, deliveries and
timeline event, so a step is paged exactly once: a redelivered task finds the step
already claimed, and a worker that dies before commit leaves it due for the sweeper.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.models import (
    Escalation,
    EscalationPolicy,
    EscalationState,
    EscalationStep,
    Incident,
    IncidentStatus,
    Notification,
    Page,
    Service,
    SeverityPaging,
    TimelineEvent,
    TimelineKind,
)
from incidents.notify import services as notify
from incidents.oncall.schedules import on_call_at
from incidents.services import incident_acknowledge, incident_record_event
from portal.errors import Conflict
from portal.models import display_name

log = logging.getLogger(__name__)
User = get_user_model()


def resolve_policy_for_services(services: Iterable[Service]) -> EscalationPolicy | None:
    services = list(services)
    policy = EscalationPolicy.objects.filter(services__in=services).order_by("pk").first()
    if policy is None:
        team_ids = [s.team_id for s in services if s.team_id]
        if team_ids:
            policy = EscalationPolicy.objects.filter(teams__in=team_ids).order_by("pk").first()
    return policy


def resolve_policy(incident: Incident) -> EscalationPolicy | None:
    """The severity's own policy, else the first impacted service's (or its team's), else the default."""
    paging = SeverityPaging.objects.filter(severity_id=incident.severity_id, policy__isnull=False).select_related("policy").first()
    if paging is not None:
        return paging.policy
    policy = resolve_policy_for_services(incident.services.order_by("pk"))
    return policy or EscalationPolicy.objects.filter(is_default=True).order_by("pk").first()


def step_targets(step: EscalationStep, now: datetime) -> list[tuple[Any, str]]:
    """The people a step pages now, each with what named them; each person once.
    Reads the step's prefetched users, schedules and teams (see `escalation_run_step`)."""
    found: dict[int, str] = {}
    known: dict[int, Any] = {}
    for user in step.users.all():
        if user.is_active:
            found.setdefault(user.pk, "directly")
            known[user.pk] = user
    for schedule in step.schedules.all():
        user_id = on_call_at(schedule, now)
        if user_id is not None:
            found.setdefault(user_id, f"schedule {schedule.name}")
    for team in step.teams.all():
        for user in team.members.all():
            if user.is_active:
                found.setdefault(user.pk, f"team {team.name}")
                known[user.pk] = user
    missing = [pk for pk in found if pk not in known]
    if missing:  # named by a schedule
        known.update({u.pk: u for u in User.objects.filter(pk__in=missing, is_active=True)})
    return [(known[pk], via) for pk, via in found.items() if pk in known]


def _enqueue_step(escalation_id: int, step: int, due: datetime | None) -> None:
    from incidents.oncall.tasks import run_step

    countdown = max(0.0, (due - timezone.now()).total_seconds()) if due else 0.0
    if countdown > 3000:  # beyond the broker's visibility timeout: the sweeper runs it when due
        return
    try:
        run_step.apply_async((escalation_id, step), countdown=countdown or None)
    except Exception:  # noqa: BLE001 - the state is stored; the sweeper runs the step if the broker is down
        log.warning("could not enqueue escalation %s step %s", escalation_id, step, exc_info=True)


def escalation_start(*, incident_id: int) -> Escalation | None:
    """Start paging an open, unacknowledged incident at a paging severity; page a reopened
    one again (a new run of its policy). Safe to call twice."""
    with transaction.atomic():
        incident = Incident.objects.select_related("severity").filter(pk=incident_id).first()
        if incident is None or not incident.severity.pages or incident.status == IncidentStatus.RESOLVED:
            return None
        existing = Escalation.objects.filter(incident=incident).first()
        if existing is not None:
            return _restart_if_reopened(incident, existing)
        if incident.acknowledged_at is not None and not _reopened_since(incident, incident.acknowledged_at):
            return None
        policy = resolve_policy(incident)
        if policy is None or not policy.steps.exists():
            return None
        now = timezone.now()
        try:
            with transaction.atomic():
                escalation = Escalation.objects.create(incident=incident, policy=policy, next_step=0, next_due_at=now, started_at=now)
        except IntegrityError:  # started concurrently (the subscriber and the sweeper)
            return None
        incident_record_event(
            incident=incident, kind=TimelineKind.SYSTEM, body=f"Paging started: escalation policy {policy.name}",
            details={"paging": {"event": "started", "policy": policy.slug}},
        )
        transaction.on_commit(partial(_enqueue_step, escalation.pk, 0, now))
    return escalation


def _restart_if_reopened(incident: Incident, escalation: Escalation) -> Escalation | None:
    """A stopped escalation runs again when the incident was reopened after its run began.
    The run counts on from `next_step` (step numbers are never reused), and only an
    acknowledgement made after the new run began stops it."""
    if escalation.state == EscalationState.ACTIVE:
        return None
    policy = resolve_policy(incident)
    if not _reopened_since(incident, escalation.started_at) or policy is None or not policy.steps.exists():
        return None
    now = timezone.now()
    base = escalation.next_step
    restarted = Escalation.objects.filter(pk=escalation.pk, state=escalation.state, next_step=base).exclude(
        state=EscalationState.ACTIVE).update(state=EscalationState.ACTIVE, policy=policy, first_step=base, next_due_at=now,
                                              started_at=now, stopped_at=None)
    if restarted != 1:
        return None  # restarted concurrently
    incident_record_event(
        incident=incident, kind=TimelineKind.SYSTEM, body=f"Paging started again (incident reopened): escalation policy {policy.name}",
        details={"paging": {"event": "restarted", "policy": policy.slug, "step": base}},
    )
    transaction.on_commit(partial(_enqueue_step, escalation.pk, base, now))
    escalation.refresh_from_db()
    return escalation


def _reopened_since(incident: Incident, moment: datetime) -> bool:
    return TimelineEvent.objects.filter(
        incident=incident, kind=TimelineKind.STATUS_CHANGE, details__reopened=True, occurred_at__gt=moment
    ).exists()


def acknowledged_in_run(incident: Incident, escalation: Escalation) -> bool:
    """The incident's acknowledgement (its first human action) stops the first run; a run
    started on reopening is stopped only by an acknowledgement made since."""
    return incident.acknowledged_at is not None and incident.acknowledged_at >= escalation.started_at


def _total_steps(policy: EscalationPolicy, steps: list[EscalationStep]) -> int:
    return len(steps) * (policy.repeat + 1)


def escalation_run_step(*, escalation_id: int, step: int) -> bool:
    """Page step `step` (counted across repeats) if it is still due and still ours to page."""
    with transaction.atomic():
        escalation = Escalation.objects.select_related("incident__severity", "policy").filter(pk=escalation_id).first()
        if escalation is None or escalation.state != EscalationState.ACTIVE or escalation.next_step != step:
            return False
        return _page_step(escalation, step, timezone.now(), {})


BATCH = 50


def escalations_run_due(*, limit: int = BATCH) -> int:
    """Page every due step, up to `limit`, in one transaction: the rows are claimed with
    `SELECT ... FOR UPDATE SKIP LOCKED` (so two workers take different ones) and each step
    still with its conditional UPDATE; the policies' steps and who is on call are read once
    per batch. When a thousand incidents escalate at once, the first timer to fire pages
    fifty steps and the timers of those find nothing left to do."""
    with transaction.atomic():
        now = timezone.now()
        due = list(
            Escalation.objects.select_for_update(skip_locked=True, of=("self",)).select_related("incident__severity", "policy")
            .filter(state=EscalationState.ACTIVE, next_due_at__lte=now).order_by("next_due_at")[:limit]
        )
        cache: dict[Any, Any] = {}
        paged = 0
        for escalation in due:
            try:
                with transaction.atomic():
                    paged += _page_step(escalation, escalation.next_step, now, cache)
            except Exception:  # noqa: BLE001 - one broken escalation must not stop the others
                log.exception("escalation %s step %s failed", escalation.pk, escalation.next_step)
    return paged


def _policy_steps(policy: EscalationPolicy, cache: dict[Any, Any]) -> list[EscalationStep]:
    key = ("steps", policy.pk)
    if key not in cache:
        cache[key] = list(policy.steps.order_by("position").prefetch_related("users", "schedules", "teams__members"))
    return cache[key]


def _page_step(escalation: Escalation, step: int, now: datetime, cache: dict[Any, Any]) -> bool:
    """Claim and page one step of an escalation read in this transaction."""
    escalation_id = escalation.pk
    incident = escalation.incident
    if incident.status == IncidentStatus.RESOLVED or acknowledged_in_run(incident, escalation):
        _stop(escalation, EscalationState.RESOLVED if incident.status == IncidentStatus.RESOLVED else EscalationState.ACKNOWLEDGED,
              now=now, by=None)
        return False
    steps = _policy_steps(escalation.policy, cache)
    total = _total_steps(escalation.policy, steps)
    position = step - escalation.first_step  # within this run
    if position >= total:
        claimed = Escalation.objects.filter(pk=escalation_id, state=EscalationState.ACTIVE, next_step=step).update(
            state=EscalationState.EXHAUSTED, next_due_at=None, stopped_at=now)
        if claimed == 1:
            incident_record_event(incident=incident, kind=TimelineKind.SYSTEM,
                                  body=f"Paging ended: no one acknowledged after {total} steps",
                                  details={"paging": {"event": "exhausted", "steps": total}})
        return False
    current = steps[position % len(steps)]
    due = now + timedelta(minutes=current.delay_minutes)
    claimed = Escalation.objects.filter(
        pk=escalation_id, state=EscalationState.ACTIVE, next_step=step, next_due_at__lte=now
    ).update(next_step=step + 1, next_due_at=due)
    if claimed != 1:
        return False
    key = ("targets", current.pk, now)
    if key not in cache:
        cache[key] = step_targets(current, now)
    targets = cache[key]
    Page.objects.bulk_create(
        [Page(escalation=escalation, step=step, user=user, via=via, paged_at=now) for user, via in targets], ignore_conflicts=True
    )
    notification = notify.notification_create(
        kind=Notification.Kind.PAGE, incident=incident, event="page",
        subject=f"[{incident.severity.name}] {incident.reference} {incident.title}",
        body=f"You are paged for {incident.reference} ({incident.severity.name}, {incident.get_status_display()}).",
    )
    deliveries = notify.deliveries_for_new_notification(notification, [user for user, _via in targets], now=now)
    names = ", ".join(f"{display_name(u)} ({via})" for u, via in targets) or "no one (no one on call)"
    repeat = position // len(steps)
    label = f"step {position % len(steps) + 1} of {len(steps)}" + (f", repeat {repeat}" if repeat else "")
    incident_record_event(
        incident=incident, kind=TimelineKind.SYSTEM, body=f"Paged {names}: {label} of {escalation.policy.name}",
        details={"paging": {"event": "step", "step": step, "policy": escalation.policy.slug,
                            "users": [u.pk for u, _ in targets], "notification": notification.pk}},
    )
    notify.enqueue(deliveries)
    transaction.on_commit(partial(_enqueue_step, escalation_id, step + 1, due))
    return True


def _stop(escalation: Escalation, state: str, *, now: datetime, by: Any) -> bool:
    stopped = Escalation.objects.filter(pk=escalation.pk, state=EscalationState.ACTIVE).update(
        state=state, stopped_at=now, next_due_at=None)
    if stopped != 1:
        return False
    reason = "acknowledged" if state == EscalationState.ACKNOWLEDGED else "resolved"
    who = f" by {display_name(by)}" if by is not None and getattr(by, "is_authenticated", False) else ""
    incident_record_event(incident=escalation.incident_id, kind=TimelineKind.SYSTEM, body=f"Paging stopped: {reason}{who}",
                          details={"paging": {"event": "stopped", "reason": reason}})
    return True


def escalation_acknowledge(*, incident_id: int, by: Any) -> Incident:
    """Acknowledge from a page's link, the war room or the API: the incident's acknowledgement
    when it has none (which stops paging), else that of a run paging it again since it reopened."""
    incident = Incident.objects.get(pk=incident_id)
    if incident.acknowledged_at is None:
        return incident_acknowledge(incident=incident_id, by=by)
    with transaction.atomic():
        escalation = Escalation.objects.select_for_update().filter(incident_id=incident_id, state=EscalationState.ACTIVE).first()
        if escalation is None or not _stop(escalation, EscalationState.ACKNOWLEDGED, now=timezone.now(), by=by):
            raise Conflict("The incident is already acknowledged.")
    return incident


def escalation_check(*, incident_id: int) -> bool:
    """Stop paging an incident that was acknowledged (by any first human action) or resolved."""
    escalation = Escalation.objects.filter(incident_id=incident_id, state=EscalationState.ACTIVE).select_related("incident").first()
    if escalation is None:
        return False
    incident = escalation.incident
    if incident.status == IncidentStatus.RESOLVED:
        state = EscalationState.RESOLVED
    elif acknowledged_in_run(incident, escalation):
        state = EscalationState.ACKNOWLEDGED
    else:
        return False
    with transaction.atomic():
        return _stop(escalation, state, now=timezone.now(), by=None)


def escalations_sweep(*, limit: int = 1000) -> int:
    """From beat: start paging incidents whose start was missed, mark breaches, and run
    every due step (after a worker or beat restart, or a lost task)."""
    now = timezone.now()
    since = now - timedelta(hours=24)
    missing = Incident.objects.open().filter(
        severity__pages=True, acknowledged_at__isnull=True, started_at__gte=since, escalation__isnull=True
    ).values_list("pk", flat=True)[:limit]
    for pk in missing:
        escalation_start(incident_id=pk)
    for escalation in Escalation.objects.filter(state=EscalationState.ACTIVE, breached_at__isnull=True).select_related(
        "incident__severity"
    )[:limit]:
        incident = escalation.incident
        if incident.acknowledged_at is None and now > incident.started_at + incident.severity.response_target:
            _mark_breached(escalation, now)
    paged = 0
    for _ in range(max(limit // BATCH, 1)):
        done = escalations_run_due()
        paged += done
        if done < BATCH:
            break
    return paged


def _mark_breached(escalation: Escalation, now: datetime) -> None:
    """Past the response target and unacknowledged: record it and escalate at once."""
    with transaction.atomic():
        marked = Escalation.objects.filter(pk=escalation.pk, state=EscalationState.ACTIVE, breached_at__isnull=True).update(
            breached_at=now, next_due_at=now)
        if marked == 1:
            incident_record_event(
                incident=escalation.incident_id, kind=TimelineKind.SYSTEM,
                body=f"Response target missed ({escalation.incident.severity.name}): escalating now",
                details={"paging": {"event": "breached"}},
            )
