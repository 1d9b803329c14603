"""Stage 2, decide: what each alert of a delivery is and where it goes.

- `signals_of`: the kind's adapter validates and parses the stored body into
  `Signal`s, each with its alert's fingerprint (de-duplication) and group key
  (grouping into one incident).
- `route_for`: the first routing rule whose fields match says declare or record,
  which services, and at what impact.
- `severity_for`: the integration's severity mapping on the adapter's field.
- `transition`: the change a signal makes on its alert's current state, decided
  under the alert's row lock against the sender's own time.

Nothing here writes; the editor's dry run uses the same functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from incidents.integrations import severities
from incidents.integrations.common import ACKNOWLEDGED, FIRING, RESOLVED, Signal
from incidents.integrations.pipeline.adapter import Parsing
from incidents.integrations.pipeline.receive import load_json
from incidents.integrations.pipeline.registry import adapter_for
from incidents.models import Alert, AlertStatus, Delivery, Impact, Integration


def validate(kind: str, payload: Any) -> list[str]:
    """Raise PayloadInvalid when the payload will never be valid; return the errors
    of the alerts that will be skipped in an otherwise valid payload."""
    return adapter_for(kind).validate(payload)


def signals_of(delivery: Delivery) -> tuple[list[Signal], list[str]]:
    """The delivery's signals, and the errors of the alerts left out."""
    integration = delivery.integration
    adapter = adapter_for(integration.kind)
    payload = load_json(delivery.body)
    skipped = adapter.validate(payload)
    parsing = Parsing(
        received_at=delivery.received_at,
        assigned_key=delivery.assigned_key,
        group_by=tuple(str(name) for name in integration.group_by or []),
    )
    return adapter.parse(payload, parsing), skipped


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
    return severities.severity_for(
        integration, signal.fields.get(severities.mapped_field(integration), signal.severity)
    )


# Transitions (see `transition`).
FIRE, RESOLVE, ACK, UNACK = "fire", "resolve", "ack", "unack"
REPEAT, STALE, DROP, RECORD_RESOLVED = "repeat", "stale", "drop", "record_resolved"
PRIORITY, ANNOTATE = "priority", "annotate"
NEW_STATUS = {
    FIRE: AlertStatus.FIRING,
    RESOLVE: AlertStatus.RESOLVED,
    ACK: AlertStatus.ACKNOWLEDGED,
    UNACK: AlertStatus.FIRING,
}


def transition(alert: Alert | None, signal: Signal, kind: str) -> str:
    """The transition a signal makes on an alert's current state.

    fire: newly firing (new alert, or a new cycle after resolution); resolve; ack;
    unack; repeat: nothing changes; stale: older than the alert's last transition;
    drop: acknowledge/resolve of an unknown alert (PagerDuty semantics);
    record_resolved: a resolution seen before its firing, kept so that the late
    firing is stale; priority/annotate: an incident-level change (PagerDuty v3)."""
    adapter = adapter_for(kind)
    if signal.action in (PRIORITY, ANNOTATE):
        return signal.action if alert is not None else DROP
    if alert is None:
        if signal.status == FIRING:
            return FIRE
        if signal.status == RESOLVED and adapter.keeps_unknown_resolutions:
            return RECORD_RESOLVED
        return DROP
    if signal.occurred_at < alert.last_transition_at:
        return STALE
    if signal.status == FIRING:
        if alert.status == AlertStatus.RESOLVED:
            if signal.action == "reopen" or signal.occurred_at > alert.last_transition_at:
                return FIRE
            return STALE
        if alert.status == AlertStatus.ACKNOWLEDGED and adapter.refiring_unacknowledges:
            return UNACK
        return REPEAT
    if signal.status == ACKNOWLEDGED:
        return ACK if alert.status == AlertStatus.FIRING else REPEAT
    if signal.status == RESOLVED:
        return RESOLVE if alert.status != AlertStatus.RESOLVED else REPEAT
    return REPEAT
