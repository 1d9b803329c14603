"""PagerDuty v3 webhooks (webhook subscriptions), mirrored into portal incidents.

Each PagerDuty incident is one alert (fingerprint = the PagerDuty incident id)
and one group, so it maps onto one portal incident. The envelope's
`event.occurred_at` orders transitions; `event.id` makes each event count once.

Signatures: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`, each an HMAC-SHA256
of the raw body with a subscription secret (several during a secret rotation).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from incidents.integrations.common import (
    ACKNOWLEDGED,
    FIRING,
    MAX_KEY,
    RESOLVED,
    PayloadInvalid,
    Signal,
    parse_time,
    short_key,
    text,
)
from portal.text import clean_text, clean_url

# event_type -> (alert status the event implies, incident-level action)
EVENT_TYPES: dict[str, tuple[str, str]] = {
    "incident.triggered": (FIRING, ""),
    "incident.acknowledged": (ACKNOWLEDGED, ""),
    "incident.unacknowledged": (FIRING, ""),
    "incident.resolved": (RESOLVED, ""),
    "incident.reopened": (FIRING, "reopen"),
    "incident.priority_updated": ("", "priority"),
    "incident.annotated": ("", "annotate"),
}


def signature_valid(body: bytes, header: str | None, secrets: list[str]) -> bool:
    """True when any `v1=` signature in the header matches any secret.

    Every candidate is compared with `hmac.compare_digest` (constant time), and all of
    them are compared, so the answer's timing does not tell which one was close."""
    if not header or not secrets:
        return False
    offered = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
    ok = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        for candidate in offered:
            # As bytes: compare_digest refuses str with non-ASCII characters, and a
            # header can carry any (it is then simply not a match).
            ok |= hmac.compare_digest(expected.encode(), candidate.lower().encode("utf-8", "replace"))
    return ok


def sign(body: bytes, secret: str) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def validate(payload: Any) -> list[str]:
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), dict):
        raise PayloadInvalid(["The body must be a PagerDuty v3 webhook envelope: {\"event\": {...}}."])
    event = payload["event"]
    errors = []
    for name in ("id", "event_type", "resource_type", "occurred_at"):
        if not isinstance(event.get(name), str) or not event[name]:
            errors.append(f"event.{name} is missing.")
    if isinstance(event.get("occurred_at"), str) and parse_time(event["occurred_at"]) is None:
        errors.append("event.occurred_at must be an ISO 8601 time.")
    if not isinstance(event.get("data"), dict):
        errors.append("event.data must be an object.")
    if errors:
        raise PayloadInvalid(errors)
    return []


def _incident_ref(event: dict[str, Any]) -> dict[str, Any]:
    data = event["data"]
    if event["event_type"] == "incident.annotated":
        return data.get("incident") if isinstance(data.get("incident"), dict) else {}
    return data


def parse(payload: dict[str, Any], *, received_at: datetime) -> list[Signal]:
    event = payload["event"]
    event_type = event["event_type"]
    if event.get("resource_type") != "incident" or event_type not in EVENT_TYPES:
        return []  # other event types (services, pings) do not concern incidents
    status, action = EVENT_TYPES[event_type]
    data = event["data"]
    incident = _incident_ref(event)
    incident_id = text(incident.get("id"), MAX_KEY)
    if not incident_id:
        return []
    occurred = parse_time(event["occurred_at"]) or received_at
    priority = data.get("priority") if isinstance(data.get("priority"), dict) else {}
    service = data.get("service") if isinstance(data.get("service"), dict) else {}
    fields = {
        "event_type": event_type,
        "urgency": text(data.get("urgency"), 255),
        "priority": text(priority.get("summary"), 255),
        "service": text(service.get("summary"), 1024),
        "service_id": text(service.get("id"), 255),
        "status": text(data.get("status"), 255),
    }
    note = clean_text(data.get("content"), max_length=20_000, multiline=True) if action == "annotate" else ""
    return [
        Signal(
            fingerprint=short_key(incident_id, MAX_KEY),
            group_key=short_key(incident_id, MAX_KEY),
            status=status,
            title=text(incident.get("title") or incident.get("summary"), 500) or incident_id,
            occurred_at=occurred,
            starts_at=occurred if status == FIRING else None,
            ends_at=occurred if status == RESOLVED else None,
            severity=fields["priority"] or fields["urgency"],
            labels={k: v for k, v in fields.items() if v and k != "event_type"},
            fields=fields,
            source_url=clean_url(incident.get("html_url"), max_length=1000),
            event_id=text(event["id"], 128),
            action=action,
            note=note,
        )
    ]
