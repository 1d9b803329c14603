"""One entry point per integration kind: validate a payload, turn a stored delivery into signals."""

from __future__ import annotations

from typing import Any

from incidents.integrations.alertmanager import parser as alertmanager
from incidents.integrations.common import PayloadInvalid, Signal
from incidents.integrations.generic import parser as generic
from incidents.integrations.pagerduty import events_v1, events_v2, webhooks_v3
from incidents.models import Delivery, IntegrationKind
from portal import parsers as portal_parsers

VALIDATORS = {
    IntegrationKind.ALERTMANAGER: alertmanager.validate,
    # One PagerDuty Events integration takes v1 and v2 events with the same key.
    IntegrationKind.PAGERDUTY_EVENTS_V2: lambda event: (events_v1 if events_v1.is_v1(event) else events_v2).validate(event),
    IntegrationKind.PAGERDUTY_WEBHOOK_V3: webhooks_v3.validate,
    IntegrationKind.GENERIC_JSON: generic.validate,
}


def load_json(body: bytes | str) -> Any:
    """The one JSON parse of every receiver: depth-bounded, so a deeply nested body
    is a 400 with a reason rather than a RecursionError."""
    try:
        return portal_parsers.load_json(body)
    except portal_parsers.JsonRefused as exc:
        raise PayloadInvalid([str(exc)]) from None


def validate(kind: str, payload: Any) -> list[str]:
    """Raise PayloadInvalid when the payload will never be valid; return the errors
    of the alerts that will be skipped in an otherwise valid payload."""
    return VALIDATORS[IntegrationKind(kind)](payload)


def signals_of(delivery: Delivery) -> tuple[list[Signal], list[str]]:
    """The delivery's signals, and the errors of the alerts left out."""
    integration = delivery.integration
    payload = load_json(delivery.body)
    skipped = validate(integration.kind, payload)
    group_by = [str(name) for name in integration.group_by or []]
    if integration.kind == IntegrationKind.ALERTMANAGER:
        return alertmanager.parse(payload, group_by=group_by), skipped
    if integration.kind == IntegrationKind.PAGERDUTY_EVENTS_V2:
        events = events_v1 if events_v1.is_v1(payload) else events_v2
        signals = events.parse(payload, received_at=delivery.received_at, assigned_key=delivery.assigned_key, group_by=group_by)
        return signals, skipped
    if integration.kind == IntegrationKind.PAGERDUTY_WEBHOOK_V3:
        return webhooks_v3.parse(payload, received_at=delivery.received_at), skipped
    return generic.parse(payload, received_at=delivery.received_at, group_by=group_by), skipped
