"""Stage 3, apply: one group of a delivery's signals onto the alert rows.

The group's alerts are locked (in fingerprint order, so two workers cannot
deadlock); alerts never seen before are inserted in one statement; each signal's
transition is decided against its alert's current state (`decide.transition`)
and gathered into a `Plan`; then the plan is written in a few statements and, if
the route declares, attached to the group's incident (`attach.py`).

A group is applied in a savepoint; if it fails, its alerts are applied one by
one, so that one bad alert never takes its neighbours down.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.db import IntegrityError, transaction

from incidents.integrations.common import Signal
from incidents.integrations.pipeline import attach, decide
from incidents.integrations.pipeline.decide import FIRE, NEW_STATUS, RECORD_RESOLVED, route_for
from incidents.integrations.pipeline.plan import Plan
from incidents.models import Alert, AlertAction, AlertEvent, AlertStatus, Delivery, Integration

log = logging.getLogger(__name__)

FIRST_STATUS = {FIRE: AlertStatus.FIRING, RECORD_RESOLVED: AlertStatus.RESOLVED}


def _lock_alerts(integration: Integration, fingerprints: list[str]) -> dict[str, Alert]:
    # Sorted, so two workers lock the same alerts in the same order and cannot deadlock.
    rows = (
        Alert.objects.select_for_update()
        .filter(integration=integration, fingerprint__in=fingerprints)
        .order_by("fingerprint")
    )
    return {alert.fingerprint: alert for alert in rows}


def _new_alert(integration: Integration, delivery: Delivery, signal: Signal, status: str) -> Alert:
    return Alert(
        integration=integration,
        fingerprint=signal.fingerprint,
        group_key=signal.group_key,
        status=status,
        title=signal.title,
        severity=signal.severity[:32],
        labels=signal.labels,
        annotations=signal.annotations,
        source_url=signal.source_url,
        starts_at=signal.starts_at or signal.occurred_at,
        ends_at=signal.ends_at,
        last_transition_at=signal.occurred_at,
        last_received_at=delivery.received_at,
        last_delivery=delivery,
    )


def _create_alerts(
    integration: Integration, delivery: Delivery, firsts: list[tuple[Signal, str]]
) -> list[Alert] | None:
    """Insert new alerts in one statement, or return None when a concurrent worker
    inserted one of them first (the caller then goes row by row)."""
    rows = [_new_alert(integration, delivery, signal, status) for signal, status in firsts]
    try:
        with transaction.atomic():
            return Alert.objects.bulk_create(rows)
    except IntegrityError:
        return None


def _create_alert(integration: Integration, delivery: Delivery, signal: Signal, status: str) -> Alert | None:
    """Insert the alert, or return None when another worker inserted it first."""
    alert = _new_alert(integration, delivery, signal, status)
    try:
        with transaction.atomic():
            alert.save(force_insert=True)
    except IntegrityError:
        return None
    return alert


def _record_event(alert: Alert, delivery: Delivery, signal: Signal, status: str, kind: str) -> bool:
    """Append an incident-level event to the alert's history once; False when it was already recorded."""
    try:
        with transaction.atomic():
            AlertEvent.objects.create(
                alert=alert,
                delivery=delivery,
                status=status,
                kind=kind,
                external_id=f"{kind}:{signal.transition_id}"[:128],
                occurred_at=signal.occurred_at,
                details={"note": signal.note} if signal.note else {},
            )
    except IntegrityError:
        return False
    return True


def _insert_new_alerts(
    integration: Integration, plan: Plan, signals: list[Signal], alerts: dict[str, Alert]
) -> set[int]:
    """New alerts first, in one INSERT: most of a burst is alerts never seen before.
    Returns the ids of the signals whose alert this inserted."""
    firsts: dict[str, tuple[Signal, str]] = {}
    for signal in signals:
        if signal.fingerprint not in alerts and signal.fingerprint not in firsts:
            decision = decide.transition(None, signal, integration.kind)
            if decision in FIRST_STATUS:
                firsts[signal.fingerprint] = (signal, FIRST_STATUS[decision])
    if len(firsts) < 2:
        return set()  # one alert: the row-by-row path below costs the same
    inserted: set[int] = set()
    for alert in _create_alerts(integration, plan.delivery, list(firsts.values())) or []:
        alerts[alert.fingerprint] = alert
        inserted.add(id(firsts[alert.fingerprint][0]))
    return inserted


def _first_seen(plan: Plan, alert: Alert, signal: Signal) -> None:
    decision = FIRE if alert.status == AlertStatus.FIRING else RECORD_RESOLVED
    plan.record(alert, signal, alert.status)
    plan.counts[decision] += 1
    if decision == FIRE:
        plan.fired.append((alert, signal))


def _apply_signal(integration: Integration, plan: Plan, alerts: dict[str, Alert], signal: Signal) -> None:
    delivery = plan.delivery
    alert = alerts.get(signal.fingerprint)
    decision = decide.transition(alert, signal, integration.kind)
    if alert is None and decision in FIRST_STATUS:
        created = _create_alert(integration, delivery, signal, FIRST_STATUS[decision])
        if created is not None:
            alerts[signal.fingerprint] = created
            _first_seen(plan, created, signal)
            return
        # Inserted by a concurrent worker: lock it and decide again.
        alerts.update(_lock_alerts(integration, [signal.fingerprint]))
        alert = alerts[signal.fingerprint]
        decision = decide.transition(alert, signal, integration.kind)
    plan.counts[decision] += 1
    if alert is None or decision in (decide.STALE, decide.DROP):
        return
    fields = ["last_received_at", "last_delivery"]
    alert.last_received_at = max(alert.last_received_at, delivery.received_at)
    alert.last_delivery = delivery
    if decision in NEW_STATUS:
        alert.status = NEW_STATUS[decision]
        alert.last_transition_at = signal.occurred_at
        fields += ["status", "last_transition_at"]
        if decision == FIRE:
            alert.starts_at = signal.starts_at or signal.occurred_at
            alert.ends_at = None
            alert.title = signal.title
            alert.labels = signal.labels
            alert.annotations = signal.annotations
            alert.group_key = plan.group_key
            fields += ["starts_at", "ends_at", "title", "labels", "annotations", "group_key"]
            plan.fired.append((alert, signal))
        elif decision == decide.RESOLVE:
            alert.ends_at = signal.ends_at or signal.occurred_at
            fields.append("ends_at")
            plan.resolved.append(alert)
        elif decision == decide.ACK:
            plan.acked.append((alert, signal))
        plan.record(alert, signal, NEW_STATUS[decision])
    elif decision in (decide.PRIORITY, decide.ANNOTATE):
        if _record_event(alert, delivery, signal, alert.status, kind=decision):
            plan.incident_actions.append((alert, signal, decision))
    if len(fields) == 2:
        plan.repeats.append(alert.pk)  # only "seen again": one UPDATE for all of them below
    else:
        alert.save(update_fields=fields)


def apply_group(
    integration: Integration, delivery: Delivery, group_key: str, signals: list[Signal]
) -> dict[str, int]:
    """Apply one group's signals (sorted by fingerprint and time); returns the count per transition."""
    plan = Plan(delivery=delivery, group_key=group_key)
    alerts = _lock_alerts(integration, sorted({s.fingerprint for s in signals}))
    inserted = _insert_new_alerts(integration, plan, signals, alerts)
    for signal in signals:
        if id(signal) in inserted:
            _first_seen(plan, alerts[signal.fingerprint], signal)
        else:
            _apply_signal(integration, plan, alerts, signal)
    if plan.repeats:
        Alert.objects.filter(pk__in=plan.repeats, last_received_at__lt=delivery.received_at).update(
            last_received_at=delivery.received_at, last_delivery=delivery
        )
    if plan.history:
        AlertEvent.objects.bulk_create(plan.history, ignore_conflicts=True)
    route = route_for(integration, plan.fired[0][1] if plan.fired else signals[0])
    if route.action == AlertAction.DECLARE:
        attach.attach(integration, plan, route)
    return dict(plan.counts)


def apply_isolated(delivery: Delivery, group_key: str, signals: list[Signal]) -> list[str]:
    """Apply a group in a savepoint; if it fails, apply its alerts one by one, so
    that one bad alert never takes its neighbours down. Returns the errors."""
    try:
        with transaction.atomic():
            apply_group(delivery.integration, delivery, group_key, signals)
        return []
    except Exception:  # noqa: BLE001 - narrowed below, alert by alert
        log.warning(
            "delivery %s: group %r failed as a whole; applying its alerts one by one",
            delivery.pk,
            group_key,
            exc_info=True,
        )
    errors = []
    by_alert: dict[str, list[Signal]] = defaultdict(list)
    for signal in signals:
        by_alert[signal.fingerprint].append(signal)
    for fingerprint in sorted(by_alert, key=lambda fp: (by_alert[fp][0].occurred_at, fp)):
        try:
            with transaction.atomic():
                apply_group(delivery.integration, delivery, group_key, by_alert[fingerprint])
        except Exception as exc:  # noqa: BLE001 - recorded on the delivery, retried by the task
            log.exception("delivery %s: alert %r failed", delivery.pk, fingerprint)
            errors.append(f"alert {fingerprint[:80]!r}: {type(exc).__name__}: {exc}"[:500])
    return errors
