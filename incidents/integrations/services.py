"""Alert ingestion workflows: integrations, storing deliveries, and processing them
into alerts and incidents (flow 1 of ARCHITECTURE.md).

Processing a delivery is idempotent: the delivery is claimed with a conditional
UPDATE in the transaction that applies it, each alert row is locked while its
transition is decided against its current state and the sender's own time, and
each group key has at most one open incident (a partial unique constraint).
Handling the same notification again, or late, changes nothing.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from incidents.integrations import severities
from incidents.integrations.common import ACKNOWLEDGED, FIRING, RESOLVED, PayloadInvalid, Signal
from incidents.integrations.parsing import signals_of
from incidents.integrations.redaction import redact_mapping
from incidents.models import (
    Alert,
    AlertAction,
    AlertEvent,
    AlertGroup,
    AlertStatus,
    Delivery,
    DeliveryStatus,
    Impact,
    Incident,
    IncidentStatus,
    Integration,
    IntegrationKind,
    ResolvePolicy,
    Service,
    Severity,
    TimelineKind,
)
from incidents.services import (
    incident_change_severity,
    incident_change_status,
    incident_declare,
    incident_record_event,
    incident_record_events,
)
from portal import redis_guard
from portal.errors import ValidationFailed

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
STALE_PENDING_AFTER = timedelta(minutes=2)


# --- Integrations ------------------------------------------------------------------


def _check_config(*, routing_rules: Any, severity_mapping: Any, group_by: Any) -> dict[str, Any]:
    """Refuse a configuration that cannot work; return the severity mapping as stored."""
    fields: dict[str, list[str]] = {}
    if not isinstance(routing_rules, list) or not all(isinstance(r, dict) and isinstance(r.get("match", {}), dict) for r in routing_rules):
        fields["routing_rules"] = ['A list of {"match": {...}, "services": [...], "impact": ..., "action": ...}.']
    else:
        for rule in routing_rules:
            for value in rule.get("match", {}).values():
                if isinstance(value, str) and value.startswith("~"):
                    try:
                        re.compile(value[1:])
                    except re.error as exc:
                        fields.setdefault("routing_rules", []).append(f"Bad regular expression {value!r}: {exc}")
            if rule.get("action", AlertAction.DECLARE) not in AlertAction.values:
                fields.setdefault("routing_rules", []).append(f"action must be one of {AlertAction.values}.")
            if rule.get("impact") is not None and rule["impact"] not in Impact.values:
                fields.setdefault("routing_rules", []).append(f"impact must be one of {Impact.values}.")
            unknown = set(rule.get("services", [])) - set(Service.objects.filter(slug__in=rule.get("services", [])).values_list("slug", flat=True))
            if unknown:
                fields.setdefault("routing_rules", []).append(f"Unknown services: {', '.join(sorted(unknown))}.")
    try:
        normalised = severities.normalise_mapping(severity_mapping)
    except ValidationFailed as exc:
        fields.update(exc.fields)
        normalised = {}
    if not isinstance(group_by, list) or not all(isinstance(n, str) for n in group_by):
        fields["group_by"] = ["A list of label names."]
    if fields:
        raise ValidationFailed("The integration's configuration is not valid.", fields=fields)
    return normalised


@transaction.atomic
def integration_create(
    *,
    kind: str,
    name: str,
    by: Any,
    signing_secret: str = "",
    enabled: bool = True,
    rate_limit_per_minute: int = 6000,
    default_action: str = AlertAction.DECLARE,
    resolve_policy: str = ResolvePolicy.RESOLVE,
    reopen_window: timedelta = timedelta(minutes=30),
    routing_rules: list[dict[str, Any]] | None = None,
    severity_mapping: dict[str, Any] | None = None,
    group_by: list[str] | None = None,
) -> tuple[Integration, str]:
    """Create an integration; returns it and its token, which is shown only this once."""
    if kind not in IntegrationKind.values:
        raise ValidationFailed("Unknown integration kind.", fields={"kind": [f"Choose one of {IntegrationKind.values}."]})
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("A name is required.", fields={"name": ["This field may not be blank."]})
    if kind == IntegrationKind.PAGERDUTY_WEBHOOK_V3 and not signing_secret.strip():
        raise ValidationFailed(
            "A PagerDuty v3 webhook needs the subscription's signing secret.", fields={"signing_secret": ["Required for this kind."]}
        )
    routing_rules = routing_rules or []
    severity_mapping = severity_mapping or {}
    group_by = group_by or []
    severity_mapping = _check_config(routing_rules=routing_rules, severity_mapping=severity_mapping, group_by=group_by)
    integration = Integration(
        kind=kind,
        name=name[:120],
        signing_secret=signing_secret.strip(),
        enabled=enabled,
        rate_limit_per_minute=rate_limit_per_minute,
        default_action=default_action,
        resolve_policy=resolve_policy,
        reopen_window=reopen_window,
        routing_rules=routing_rules,
        severity_mapping=severity_mapping,
        group_by=group_by,
        created_by=by if getattr(by, "is_authenticated", False) else None,
    )
    token = Integration.new_token()
    integration.set_token(token)
    integration.save()
    return integration, token


@transaction.atomic
def integration_rotate_token(*, integration: Integration | int, by: Any) -> tuple[Integration, str]:
    pk = integration if isinstance(integration, int) else integration.pk
    integration = Integration.objects.select_for_update().get(pk=pk)
    token = Integration.new_token()
    integration.set_token(token)
    integration.save(update_fields=["token_hash", "token_hint", "updated_at"])
    log.info("integration %s token rotated by %s", integration.pk, by)
    return integration, token


@transaction.atomic
def integration_update(*, integration: Integration | int, by: Any, **changes: Any) -> Integration:
    allowed = {"name", "enabled", "rate_limit_per_minute", "default_action", "resolve_policy", "reopen_window",
               "routing_rules", "severity_mapping", "group_by", "signing_secret"}  # fmt: skip
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed("Unknown fields.", fields={name: ["Unknown field."] for name in unknown})
    pk = integration if isinstance(integration, int) else integration.pk
    integration = Integration.objects.select_for_update().get(pk=pk)
    for name, value in changes.items():
        setattr(integration, name, value)
    # The stored mapping is checked when it changes: disabling an integration must
    # not fail over a severity deleted behind the application's back.
    mapping = _check_config(
        routing_rules=integration.routing_rules, severity_mapping=changes.get("severity_mapping", {}), group_by=integration.group_by
    )
    if "severity_mapping" in changes:
        integration.severity_mapping = mapping
    integration.save()
    return integration


# --- Receiving -----------------------------------------------------------------------


def enqueue(delivery_id: int) -> None:
    from incidents.integrations.tasks import process_delivery

    # Best effort within milliseconds (never a broker wait on the webhook's answer):
    # the row is stored, and the sweeper processes it once Redis is back.
    if not redis_guard.publish(process_delivery, args=(delivery_id,), queue="alerts"):
        log.info("delivery %s not queued now; the sweeper will pick it up", delivery_id)


def delivery_store(
    *, integration: Integration, body: str, headers: dict[str, str], external_id: str = "", assigned_key: str = "",
    is_test: bool = False,
) -> Delivery:
    """Keep the raw payload, then (after commit) queue it for processing.

    A delivery whose sender id was already received is kept, marked duplicate, and
    not processed again (PagerDuty retries a webhook with the same X-Webhook-Id).
    Without a sender id the row is one INSERT in autocommit: the commit that makes
    the 2xx truthful, and nothing more on the webhook's hot path."""
    if not external_id:
        delivery = Delivery.objects.create(
            integration=integration, body=body, headers=headers, assigned_key=assigned_key, status=DeliveryStatus.PENDING,
            is_test=is_test,
        )
        transaction.on_commit(partial(enqueue, delivery.pk))
        return delivery
    with transaction.atomic():
        duplicate = Delivery.objects.filter(integration=integration, external_id=external_id).exists()
        delivery = Delivery.objects.create(
            integration=integration,
            body=body,
            headers=headers,
            external_id=external_id[:128],
            assigned_key=assigned_key,
            status=DeliveryStatus.DUPLICATE if duplicate else DeliveryStatus.PENDING,
        )
        if not duplicate:
            transaction.on_commit(partial(enqueue, delivery.pk))
    return delivery


def new_dedup_key() -> str:
    return uuid.uuid4().hex


# --- Processing ------------------------------------------------------------------------


@dataclass
class Route:
    action: str
    services: list[str]
    impact: str


def _field_matches(expected: Any, actual: str | None) -> bool:
    if actual is None:
        return False
    if isinstance(expected, str) and expected.startswith("~"):
        try:
            return re.fullmatch(expected[1:], actual) is not None
        except re.error:
            return False
    return str(expected) == actual


def route_for(integration: Integration, signal: Signal) -> Route:
    for rule in integration.routing_rules or []:
        match = rule.get("match") or {}
        if all(_field_matches(expected, signal.fields.get(name)) for name, expected in match.items()):
            return Route(
                action=rule.get("action") or integration.default_action,
                services=list(rule.get("services") or []),
                impact=rule.get("impact") or Impact.PARTIAL_OUTAGE,
            )
    return Route(action=integration.default_action, services=[], impact=Impact.PARTIAL_OUTAGE)


def severity_for(integration: Integration, signal: Signal) -> severities.Choice:
    return severities.severity_for(integration, signal.fields.get(severities.mapped_field(integration), signal.severity))


def _lock_alerts(integration: Integration, fingerprints: list[str]) -> dict[str, Alert]:
    # Sorted, so two workers lock the same alerts in the same order and cannot deadlock.
    rows = Alert.objects.select_for_update().filter(integration=integration, fingerprint__in=fingerprints).order_by("fingerprint")
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


def _create_alerts(integration: Integration, delivery: Delivery, firsts: list[tuple[Signal, str]]) -> list[Alert] | None:
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


def _decide(alert: Alert | None, signal: Signal, kind: str) -> str:
    """The transition a signal makes on an alert's current state.

    fire: newly firing (new alert, or a new cycle after resolution); resolve; ack;
    repeat: nothing changes; stale: older than the alert's last transition; drop:
    acknowledge/resolve of an unknown alert (PagerDuty semantics); record_resolved:
    a resolution seen before its firing, kept so that the late firing is stale."""
    if signal.action in ("priority", "annotate"):
        return signal.action if alert is not None else "drop"
    if alert is None:
        if signal.status == FIRING:
            return "fire"
        if signal.status == RESOLVED and kind in (IntegrationKind.ALERTMANAGER, IntegrationKind.GENERIC_JSON):
            return "record_resolved"
        return "drop"
    if signal.occurred_at < alert.last_transition_at:
        return "stale"
    if signal.status == FIRING:
        if alert.status == AlertStatus.RESOLVED:
            if signal.action == "reopen" or signal.occurred_at > alert.last_transition_at:
                return "fire"
            return "stale"
        if alert.status == AlertStatus.ACKNOWLEDGED and kind == IntegrationKind.PAGERDUTY_WEBHOOK_V3:
            return "unack"
        return "repeat"
    if signal.status == ACKNOWLEDGED:
        return "ack" if alert.status == AlertStatus.FIRING else "repeat"
    if signal.status == RESOLVED:
        return "resolve" if alert.status != AlertStatus.RESOLVED else "repeat"
    return "repeat"


def _open_group_incident(
    integration: Integration, group_key: str, signal: Signal, route: Route, *, force_reopen: bool, test: bool = False
) -> tuple[Incident, str]:
    """The open incident of a group key: the existing one, the last one reopened
    (within the reopen window, or when the sender says so), or a new one."""
    now = timezone.now()
    group = AlertGroup.objects.select_for_update().select_related("incident").filter(
        integration=integration, group_key=group_key, is_open=True
    ).first()
    if group is not None:
        if group.incident.status != IncidentStatus.RESOLVED:
            return group.incident, "existing"
        # Resolved by a person in the portal: the group closes with it.
        AlertGroup.objects.filter(pk=group.pk).update(is_open=False, closed_at=group.incident.resolved_at or now)
    last = (
        AlertGroup.objects.select_related("incident")
        .filter(integration=integration, group_key=group_key, is_open=False)
        .order_by("-id")
        .first()
    )
    if last is not None and last.incident.status == IncidentStatus.RESOLVED:
        resolved_at = last.incident.resolved_at
        if force_reopen or (resolved_at is not None and now - resolved_at <= integration.reopen_window):
            try:
                with transaction.atomic():
                    AlertGroup.objects.filter(pk=last.pk).update(is_open=True, closed_at=None)
                    incident = incident_change_status(
                        incident=last.incident_id,
                        status=IncidentStatus.INVESTIGATING,
                        by=None,
                        reason=f"Alert fired again: {signal.title}"[:500],
                    )
                return incident, "reopened"
            except IntegrityError:
                return _reread_open_group(integration, group_key), "existing"
    services = {s.slug: s for s in Service.objects.filter(slug__in=route.services)}
    started = min(signal.starts_at or signal.occurred_at, now)
    choice = severity_for(integration, signal)
    title, summary, tags = signal.title or "Alert", f"Opened by the {integration.name} integration ({integration.get_kind_display()}).", []
    if test:
        choice = severities.Choice(_sample_severity(choice.severity), "")
        title, tags = f"Test: {title}", [SAMPLE_TAG]
        summary = f"A sample sent from the page of the {integration.name} integration: it never pages and resolves itself."
    try:
        with transaction.atomic():
            incident = incident_declare(
                title=title[:200],
                severity=choice.severity,
                by=None,
                summary=summary,
                impacts={services[slug]: route.impact for slug in route.services if slug in services},
                started_at=started,
                tags=tags,
            )
            AlertGroup.objects.create(integration=integration, group_key=group_key, incident=incident)
            if choice.why:
                incident_record_event(
                    incident=incident, kind=TimelineKind.ALERT, body=choice.why,
                    details={"severity": choice.severity.name, "integration": integration.name, "fallback": True},
                )  # fmt: skip
        return incident, "declared"
    except IntegrityError:
        # Another worker opened the group's incident first; its row is the one to use.
        return _reread_open_group(integration, group_key), "existing"


def _reread_open_group(integration: Integration, group_key: str) -> Incident:
    group = AlertGroup.objects.select_for_update().select_related("incident").filter(
        integration=integration, group_key=group_key, is_open=True
    ).first()
    if group is None:
        # The conflict was not the group constraint: let the error through.
        raise
    return group.incident


def _record_event(alert: Alert, delivery: Delivery, signal: Signal, status: str, kind: str = "transition") -> bool:
    """Append the alert's history row once; False when this transition was already recorded."""
    try:
        with transaction.atomic():
            AlertEvent.objects.create(
                alert=alert,
                delivery=delivery,
                status=status,
                kind=kind,
                external_id=signal.transition_id[:128] if kind == "transition" else f"{kind}:{signal.transition_id}"[:128],
                occurred_at=signal.occurred_at,
                details={"note": signal.note} if signal.note else {},
            )
    except IntegrityError:
        return False
    return True


def _apply_group(integration: Integration, delivery: Delivery, group_key: str, signals: list[Signal]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    alerts = _lock_alerts(integration, sorted({s.fingerprint for s in signals}))
    fired: list[tuple[Alert, Signal]] = []
    resolved: list[Alert] = []
    acked: list[tuple[Alert, Signal]] = []
    incident_actions: list[tuple[Alert, Signal, str]] = []
    history: list[AlertEvent] = []
    repeats: list[int] = []

    def transition(alert: Alert, signal: Signal, status: str) -> None:
        # Decided under the alert's row lock, so a conflict can only be a replay.
        history.append(AlertEvent(alert=alert, delivery=delivery, status=status, external_id=signal.transition_id[:128],
                                  occurred_at=signal.occurred_at))  # fmt: skip

    # New alerts first, in one INSERT: most of a burst is alerts never seen before.
    firsts: dict[str, tuple[Signal, str]] = {}
    for signal in signals:
        if signal.fingerprint not in alerts and signal.fingerprint not in firsts:
            decision = _decide(None, signal, integration.kind)
            if decision in ("fire", "record_resolved"):
                firsts[signal.fingerprint] = (signal, AlertStatus.FIRING if decision == "fire" else AlertStatus.RESOLVED)
    created_by_bulk: set[int] = set()
    if len(firsts) > 1:
        created = _create_alerts(integration, delivery, list(firsts.values()))
        for alert in created or []:
            alerts[alert.fingerprint] = alert
            created_by_bulk.add(id(firsts[alert.fingerprint][0]))

    for signal in signals:
        if id(signal) in created_by_bulk:
            alert = alerts[signal.fingerprint]
            transition(alert, signal, alert.status)
            decision = "fire" if alert.status == AlertStatus.FIRING else "record_resolved"
            counts[decision] += 1
            if decision == "fire":
                fired.append((alert, signal))
            continue
        alert = alerts.get(signal.fingerprint)
        decision = _decide(alert, signal, integration.kind)
        if alert is None and decision in ("fire", "record_resolved"):
            status = AlertStatus.FIRING if decision == "fire" else AlertStatus.RESOLVED
            created_one = _create_alert(integration, delivery, signal, status)
            if created_one is None:  # inserted by a concurrent worker: lock it and decide again
                alerts.update(_lock_alerts(integration, [signal.fingerprint]))
                alert = alerts[signal.fingerprint]
                decision = _decide(alert, signal, integration.kind)
            else:
                alert = alerts[signal.fingerprint] = created_one
                transition(alert, signal, status)
                counts[decision] += 1
                if decision == "fire":
                    fired.append((alert, signal))
                continue
        counts[decision] += 1
        if alert is None or decision in ("stale", "drop"):
            continue
        fields = ["last_received_at", "last_delivery"]
        alert.last_received_at = max(alert.last_received_at, delivery.received_at)
        alert.last_delivery = delivery
        if decision in ("fire", "resolve", "ack", "unack"):
            new_status = {"fire": AlertStatus.FIRING, "resolve": AlertStatus.RESOLVED, "ack": AlertStatus.ACKNOWLEDGED,
                          "unack": AlertStatus.FIRING}[decision]  # fmt: skip
            alert.status = new_status
            alert.last_transition_at = signal.occurred_at
            fields += ["status", "last_transition_at"]
            if decision == "fire":
                alert.starts_at = signal.starts_at or signal.occurred_at
                alert.ends_at = None
                alert.title = signal.title
                alert.labels = signal.labels
                alert.annotations = signal.annotations
                alert.group_key = group_key
                fields += ["starts_at", "ends_at", "title", "labels", "annotations", "group_key"]
                fired.append((alert, signal))
            elif decision == "resolve":
                alert.ends_at = signal.ends_at or signal.occurred_at
                fields.append("ends_at")
                resolved.append(alert)
            elif decision == "ack":
                acked.append((alert, signal))
            transition(alert, signal, new_status)
        elif decision in ("priority", "annotate"):
            if _record_event(alert, delivery, signal, alert.status, kind=decision):
                incident_actions.append((alert, signal, decision))
        if len(fields) == 2:
            repeats.append(alert.pk)  # only "seen again": one UPDATE for all of them below
        else:
            alert.save(update_fields=fields)
    if repeats:
        Alert.objects.filter(pk__in=repeats, last_received_at__lt=delivery.received_at).update(
            last_received_at=delivery.received_at, last_delivery=delivery
        )
    if history:
        AlertEvent.objects.bulk_create(history, ignore_conflicts=True)

    route = route_for(integration, (fired[0][1] if fired else signals[0]))
    if route.action != AlertAction.DECLARE:
        return counts

    if fired:
        # The earliest alert names the incident, whatever order the payload lists them in.
        first = min(fired, key=lambda pair: (pair[1].occurred_at, pair[1].fingerprint))[1]
        incident, how = _open_group_incident(
            integration, group_key, first, route, force_reopen=any(s.action == "reopen" for _, s in fired), test=delivery.is_test
        )
        if how == "existing" and incident.status == IncidentStatus.MONITORING:
            incident = incident_change_status(
                incident=incident, status=IncidentStatus.INVESTIGATING, by=None, reason="An alert of the group fired again."
            )
        choice = severity_for(integration, first)
        if how == "existing" and choice.severity.rank < incident.severity.rank:
            reason = f"Alert: {first.title}. {choice.why}" if choice.why else f"Alert: {first.title}"
            incident = incident_change_severity(incident=incident, severity=choice.severity, by=None, reason=reason[:500])
        ids = [alert.pk for alert, _ in fired]
        Alert.objects.filter(pk__in=ids).update(incident=incident)
        for alert, _signal in fired:
            alert.incident = incident
        incident_record_events(
            incident=incident,
            entries=[
                (TimelineKind.ALERT, f"Alert firing: {signal.title}",
                 {"alert_id": alert.pk, "fingerprint": alert.fingerprint, "integration": integration.name,
                  "status": "firing", "starts_at": signal.occurred_at.isoformat(), "labels": redact_mapping(signal.labels)})
                for alert, signal in fired
            ],
        )  # fmt: skip
    for alert, _signal in acked:
        if alert.incident_id:
            incident_record_event(
                incident=alert.incident_id,
                kind=TimelineKind.ALERT,
                body=f"Alert acknowledged at the source: {alert.title}",
                details={"alert_id": alert.pk, "status": "acknowledged", "integration": integration.name},
            )
    for alert, signal, action in incident_actions:
        _incident_action(integration, alert, signal, action)
    if resolved:
        _maybe_settle_group(integration, group_key)
    if delivery.is_test and fired:
        _settle_sample(integration, group_key, [alert.pk for alert, _ in fired])
    return counts


SAMPLE_TAG = "test"


def _sample_severity(chosen: Severity) -> Severity:
    """A sample's incident takes the least severe severity that does not page (the
    mapped one if none is left that does not)."""
    return Severity.objects.filter(pages=False).order_by("-rank").first() or chosen


def _settle_sample(integration: Integration, group_key: str, alert_ids: list[int]) -> None:
    """A sample resolves itself once it has shown the way through the pipeline:
    its alerts resolve, its incident resolves, its group closes."""
    now = timezone.now()
    Alert.objects.filter(pk__in=alert_ids).exclude(status=AlertStatus.RESOLVED).update(
        status=AlertStatus.RESOLVED, ends_at=now, last_transition_at=now
    )
    group = AlertGroup.objects.select_for_update().filter(integration=integration, group_key=group_key, is_open=True).first()
    if group is None:
        return
    if Incident.objects.filter(pk=group.incident_id).exclude(status=IncidentStatus.RESOLVED).exists():
        incident_change_status(incident=group.incident_id, status=IncidentStatus.RESOLVED, by=None, note="A sample resolves itself.")
    AlertGroup.objects.filter(pk=group.pk).update(is_open=False, closed_at=now)


def _incident_action(integration: Integration, alert: Alert, signal: Signal, action: str) -> None:
    incident = Incident.objects.filter(pk=alert.incident_id).select_related("severity").first()
    if incident is None:
        return
    if action == "annotate" and signal.note:
        incident_record_event(
            incident=incident,
            kind=TimelineKind.ALERT,
            body=f"Note from {integration.name}: {signal.note}"[:20_000],
            details={"alert_id": alert.pk, "event_id": signal.event_id},
        )
    elif action == "priority" and incident.is_open:
        choice = severity_for(integration, signal)
        if choice.severity.pk != incident.severity_id:
            reason = f"Priority changed at the source to {signal.severity or 'none'}. {choice.why}".strip()
            incident_change_severity(incident=incident, severity=choice.severity, by=None, reason=reason[:500])


def _maybe_settle_group(integration: Integration, group_key: str) -> None:
    """When every alert of the group has resolved, move its incident on, as the policy says."""
    group = AlertGroup.objects.select_for_update().select_related("incident").filter(
        integration=integration, group_key=group_key, is_open=True
    ).first()
    if group is None:
        return
    if Alert.objects.filter(integration=integration, group_key=group_key).exclude(status=AlertStatus.RESOLVED).exists():
        return
    incident = group.incident
    note = "Every alert of the group has resolved."
    if incident.status == IncidentStatus.RESOLVED:
        AlertGroup.objects.filter(pk=group.pk).update(is_open=False, closed_at=incident.resolved_at or timezone.now())
    elif integration.resolve_policy == ResolvePolicy.RESOLVE:
        incident_change_status(incident=incident, status=IncidentStatus.RESOLVED, by=None, note=note)
        AlertGroup.objects.filter(pk=group.pk).update(is_open=False, closed_at=timezone.now())
    elif incident.status != IncidentStatus.MONITORING:
        incident_change_status(incident=incident, status=IncidentStatus.MONITORING, by=None, note=note)


class AlertsFailed(Exception):
    """Some alerts of a delivery could not be applied; the others were. Raised after
    commit, so that the task retries the delivery (replaying the applied ones
    changes nothing)."""


def _apply_isolated(delivery: Delivery, group_key: str, signals: list[Signal]) -> list[str]:
    """Apply a group in a savepoint; if it fails, apply its alerts one by one, so
    that one bad alert never takes its neighbours down. Returns the errors."""
    try:
        with transaction.atomic():
            _apply_group(delivery.integration, delivery, group_key, signals)
        return []
    except Exception:  # noqa: BLE001 - narrowed below, alert by alert
        log.warning("delivery %s: group %r failed as a whole; applying its alerts one by one", delivery.pk, group_key, exc_info=True)
    errors = []
    by_alert: dict[str, list[Signal]] = defaultdict(list)
    for signal in signals:
        by_alert[signal.fingerprint].append(signal)
    for fingerprint in sorted(by_alert, key=lambda fp: (by_alert[fp][0].occurred_at, fp)):
        try:
            with transaction.atomic():
                _apply_group(delivery.integration, delivery, group_key, by_alert[fingerprint])
        except Exception as exc:  # noqa: BLE001 - recorded on the delivery, retried by the task
            log.exception("delivery %s: alert %r failed", delivery.pk, fingerprint)
            errors.append(f"alert {fingerprint[:80]!r}: {type(exc).__name__}: {exc}"[:500])
    return errors


def delivery_process(*, delivery_id: int) -> str:
    """Process one stored delivery; safe to call any number of times."""
    failed: list[str] = []
    try:
        with transaction.atomic():
            now = timezone.now()
            # The claim and the work commit together: a second worker blocks on this
            # row until the first commits, then finds it no longer pending.
            claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.PROCESSED, processed_at=now, attempts=F("attempts") + 1, error=""
            )
            if not claimed:
                return "skipped"
            delivery = Delivery.objects.select_related("integration").get(pk=delivery_id)
            if delivery.external_id and Delivery.objects.filter(
                integration=delivery.integration_id, external_id=delivery.external_id, status=DeliveryStatus.PROCESSED
            ).exclude(pk=delivery.pk).exists():
                Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.DUPLICATE)
                return "duplicate"
            signals, skipped = signals_of(delivery)
            by_group: dict[str, list[Signal]] = defaultdict(list)
            for signal in sorted(signals, key=lambda s: (s.fingerprint, s.occurred_at)):
                by_group[signal.group_key].append(signal)
            for group_key in sorted(by_group):
                failed += _apply_isolated(delivery, group_key, by_group[group_key])
            errors = "; ".join((["Skipped: " + " ".join(skipped)] if skipped else []) + failed)
            if failed:
                # The applied alerts stay applied; the delivery is tried again for the rest.
                status = DeliveryStatus.FAILED if delivery.attempts >= MAX_ATTEMPTS else DeliveryStatus.PENDING
                Delivery.objects.filter(pk=delivery.pk).update(status=status, error=errors[:2000])
            elif skipped:
                Delivery.objects.filter(pk=delivery.pk).update(error=errors[:2000])
        if not failed:
            return "processed"
    except PayloadInvalid as exc:
        # Could not have been stored by the views; a payload stored by other means
        # that will never parse is failed at once rather than retried.
        Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, error=str(exc)[:2000], attempts=F("attempts") + 1
        )
        return "failed"
    except Exception as exc:
        attempts = _record_failure(delivery_id, exc)
        if attempts >= MAX_ATTEMPTS:
            return "failed"
        raise
    if delivery.attempts >= MAX_ATTEMPTS:
        return "failed"
    raise AlertsFailed("; ".join(failed)[:2000])


def _record_failure(delivery_id: int, exc: Exception) -> int:
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
            attempts=F("attempts") + 1, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        row = Delivery.objects.filter(pk=delivery_id).values("attempts", "status").first()
        if row is None:
            return MAX_ATTEMPTS
        if row["attempts"] >= MAX_ATTEMPTS and row["status"] == DeliveryStatus.PENDING:
            Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(status=DeliveryStatus.FAILED)
        return int(row["attempts"])


def deliveries_sweep(*, older_than: timedelta = STALE_PENDING_AFTER, limit: int = 500) -> list[int]:
    """Queue again the deliveries still pending after `older_than` (Redis or every
    worker was down when they arrived); processing them twice is harmless."""
    cutoff = timezone.now() - older_than
    ids = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, received_at__lt=cutoff).order_by("received_at").values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        enqueue(pk)
    return ids


# --- Samples ---------------------------------------------------------------------------


def sample_body(integration: Integration) -> tuple[str, str]:
    """A realistic payload for the integration's kind, and the key the portal would assign."""
    now = timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    ident = uuid.uuid4().hex[:12]
    if integration.kind == IntegrationKind.ALERTMANAGER:
        body: Any = {
            "receiver": "portal", "status": "firing", "version": "4", "truncatedAlerts": 0,
            "groupKey": f'{{}}:{{alertname="PortalSample",sample="{ident}"}}',
            "groupLabels": {"alertname": "PortalSample"}, "commonLabels": {"alertname": "PortalSample", "severity": "warning"},
            "commonAnnotations": {"summary": "Sample alert sent from the integrations page"},
            "externalURL": "http://alertmanager.invalid",
            "alerts": [{"status": "firing", "labels": {"alertname": "PortalSample", "severity": "warning", "sample": ident},
                        "annotations": {"summary": "Sample alert sent from the integrations page"},
                        "startsAt": now, "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": ident}],
        }  # fmt: skip
        return json.dumps(body), ""
    if integration.kind == IntegrationKind.PAGERDUTY_EVENTS_V2:
        body = {"routing_key": "0" * 32, "event_action": "trigger", "dedup_key": f"sample-{ident}",
                "payload": {"summary": "Sample event sent from the integrations page", "source": "portal", "severity": "warning",
                            "timestamp": now}}  # fmt: skip
        return json.dumps(body), ""
    if integration.kind == IntegrationKind.PAGERDUTY_WEBHOOK_V3:
        body = {"event": {"id": f"sample-{ident}", "event_type": "incident.triggered", "resource_type": "incident",
                          "occurred_at": now, "agent": None, "client": None,
                          "data": {"id": f"SAMPLE{ident.upper()}", "type": "incident", "title": "Sample incident sent from the integrations page",
                                   "status": "triggered", "urgency": "low", "number": 0, "html_url": ""}}}  # fmt: skip
        return json.dumps(body), ""
    body = {"fingerprint": f"sample-{ident}", "status": "firing", "title": "Sample alert sent from the integrations page",
            "severity": "warning", "occurred_at": now}  # fmt: skip
    return json.dumps(body), ""


def integration_send_sample(*, integration: Integration, by: Any) -> Delivery:
    body, assigned = sample_body(integration)
    return delivery_store(
        integration=integration, body=body, headers={"user-agent": f"portal-sample ({by})"}, assigned_key=assigned, is_test=True
    )


def delivery_retry(*, delivery: Delivery, by: Any) -> bool:
    """Put a failed delivery back in the queue."""
    with transaction.atomic():
        changed = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(status=DeliveryStatus.PENDING, attempts=0)
        if changed:
            transaction.on_commit(partial(enqueue, delivery.pk))
    return bool(changed)

