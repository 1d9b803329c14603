"""PagerDuty Events API v1 (`POST /generic/2010-04-15/create_event.json`) events,
with PagerDuty's v1 rules.

- `service_key` is the integration key (32 characters); the portal's PagerDuty
  Events integrations take v1 and v2 events with the same key, as PagerDuty's do.
- `event_type` is trigger, acknowledge or resolve. A trigger needs a `description`
  (at most 1024 characters); acknowledge and resolve need the `incident_key`.
- `incident_key` de-duplicates: a trigger for a key whose alert is open is a
  repeat; a trigger without one gets a key assigned at receipt and answered back.
  Acknowledge or resolve of an unknown key is dropped.
- v1 events carry no time: the event's time is the time the portal received it.
- `details` (any JSON object), `client` and `client_url` are kept with the alert.

Alertmanager's v1 events also carry its v2 fields empty (`"event_action": ""`,
`"payload": null`); they are ignored.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from incidents.integrations.common import (
    ACKNOWLEDGED,
    FIRING,
    MAX_GROUP_KEY,
    MAX_KEY,
    RESOLVED,
    PayloadInvalid,
    Signal,
    flatten,
    short_key,
    text,
)
from portal.text import clean_url

EVENT_TYPES = {"trigger": FIRING, "acknowledge": ACKNOWLEDGED, "resolve": RESOLVED}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not text(value, 1024))


def is_v1(event: Any) -> bool:
    """A stored PagerDuty event is v1 when it names a service key and no routing key."""
    return isinstance(event, dict) and "service_key" in event and "routing_key" not in event


def validate(event: Any) -> list[str]:
    """Raise PayloadInvalid with PagerDuty-style messages (one event: no partial errors)."""
    if not isinstance(event, dict):
        raise PayloadInvalid(["Event object is not a JSON object"])
    errors: list[str] = []
    if _blank(event.get("service_key")):
        errors.append("'service_key' is missing or blank")
    elif not isinstance(event["service_key"], str) or len(event["service_key"]) != 32:
        errors.append("Service key is the wrong length (should be 32 characters)")
    event_type = event.get("event_type")
    if _blank(event_type):
        errors.append("'event_type' is missing or blank")
    elif not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        errors.append("'event_type' is invalid (must be one of: trigger, acknowledge, resolve)")
    key = event.get("incident_key")
    if key is not None and not isinstance(key, str):
        errors.append("'incident_key' must be a string")
    elif isinstance(key, str) and len(key) > MAX_KEY:
        errors.append("'incident_key' is too long (maximum is 255 characters)")
    if event_type in ("acknowledge", "resolve") and _blank(key):
        errors.append("'incident_key' is missing or blank")
    description = event.get("description")
    if event_type == "trigger" and _blank(description):
        errors.append("'description' is missing or blank")
    if description is not None and not isinstance(description, str):
        errors.append("'description' must be a string")
    elif isinstance(description, str) and len(description) > 1024:
        errors.append("'description' is too long (maximum is 1024 characters)")
    if event.get("details") is not None and not isinstance(event["details"], (dict, str)):
        errors.append("'details' must be an object")
    for name in ("client", "client_url"):
        if event.get(name) is not None and not isinstance(event[name], str):
            errors.append(f"'{name}' must be a string")
    if errors:
        raise PayloadInvalid(errors)
    return []


def parse(event: dict[str, Any], *, received_at: datetime, assigned_key: str, group_by: list[str]) -> list[Signal]:
    status = EVENT_TYPES[event["event_type"]]
    key = text(event.get("incident_key"), MAX_KEY) or assigned_key
    fields = {"event_type": event["event_type"]}
    for name in ("description", "client"):
        if event.get(name):
            fields[name] = text(event[name], 1024)
    details = event.get("details")
    fields.update(flatten("details", details if isinstance(details, dict) else ({"details": details} if details else {})))
    group_key = json.dumps({n: fields.get(n, "") for n in group_by}, sort_keys=True) if group_by else key
    annotations = {"details": json.dumps(details)} if details else {}
    labels = {"client": fields["client"]} if fields.get("client") else {}
    return [
        Signal(
            fingerprint=short_key(key, MAX_KEY),
            group_key=short_key(group_key, MAX_GROUP_KEY),
            status=status,
            title=fields.get("description", "")[:500] or key,
            occurred_at=received_at,
            starts_at=received_at if status == FIRING else None,
            ends_at=received_at if status == RESOLVED else None,
            # v1 has no severity field; by convention senders put one in details.
            severity=fields.get("details.severity", "")[:32],
            labels=labels,
            annotations=annotations,
            fields=fields,
            source_url=clean_url(event.get("client_url"), max_length=1000) if isinstance(event.get("client_url"), str) else "",
        )
    ]
