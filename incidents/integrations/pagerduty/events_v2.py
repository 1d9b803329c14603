"""PagerDuty Events API v2 (`POST /v2/enqueue`) events, with PagerDuty's rules.

- `dedup_key` identifies the alert within one routing key (at most 255 characters);
  a trigger without one gets a key assigned at receipt and answered back.
- A trigger for a key whose alert is open is a repeat; after resolve it opens a
  new incident. Acknowledge or resolve of an unknown key is dropped.
- The event's time is `payload.timestamp` when the sender gives one, else the
  time the portal received it.
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
    parse_time,
    short_key,
    text,
)
from portal.text import clean_url

ACTIONS = {"trigger": FIRING, "acknowledge": ACKNOWLEDGED, "resolve": RESOLVED}
SEVERITIES = ("critical", "error", "warning", "info")


def _blank(value: Any) -> bool:
    # A value of only NUL or control characters is blank: it cleans to nothing.
    return value is None or (isinstance(value, str) and not text(value, 1024))


def validate(event: Any) -> list[str]:
    """Raise PayloadInvalid with PagerDuty-style messages (one event: no partial errors)."""
    if not isinstance(event, dict):
        raise PayloadInvalid(["Event object is not a JSON object"])
    errors: list[str] = []
    if _blank(event.get("routing_key")):
        errors.append("'routing_key' is missing or blank")
    elif not isinstance(event["routing_key"], str) or len(event["routing_key"]) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if _blank(action):
        errors.append("'event_action' is missing or blank")
    elif not isinstance(action, str) or action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, str):
        errors.append("'dedup_key' must be a string")
    elif isinstance(dedup_key, str) and len(dedup_key) > MAX_KEY:
        errors.append("'dedup_key' is too long (maximum is 255 characters)")
    if action in ("acknowledge", "resolve") and _blank(dedup_key):
        errors.append("'dedup_key' is missing or blank")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or blank")
        else:
            for name in ("summary", "source", "severity"):
                if _blank(payload.get(name)):
                    errors.append(f"'payload.{name}' is missing or blank")
            if not _blank(payload.get("severity")) and payload.get("severity") not in SEVERITIES:
                errors.append("'payload.severity' is invalid (must be one of: critical, error, warning, info)")
            if isinstance(payload.get("summary"), str) and len(payload["summary"]) > 1024:
                errors.append("'payload.summary' is too long (maximum is 1024 characters)")
            if payload.get("timestamp") is not None and parse_time(payload.get("timestamp")) is None:
                errors.append("'payload.timestamp' is invalid (must be an ISO 8601 date-time)")
            if payload.get("custom_details") is not None and not isinstance(payload.get("custom_details"), (dict, str)):
                errors.append("'payload.custom_details' must be an object")
    if errors:
        raise PayloadInvalid(errors)
    return []


def parse(event: dict[str, Any], *, received_at: datetime, assigned_key: str, group_by: list[str]) -> list[Signal]:
    status = ACTIONS[event["event_action"]]
    dedup_key = text(event.get("dedup_key"), MAX_KEY) or assigned_key
    raw_payload = event.get("payload")
    payload: dict[str, Any] = raw_payload if isinstance(raw_payload, dict) else {}
    occurred = parse_time(payload.get("timestamp")) or received_at
    fields = {name: text(payload[name], 1024) for name in ("summary", "source", "severity", "component", "group", "class") if payload.get(name)}
    fields["event_action"] = event["event_action"]
    custom = payload.get("custom_details")
    fields.update(flatten("custom_details", custom))
    group_key = json.dumps({n: fields.get(n, "") for n in group_by}, sort_keys=True) if group_by else dedup_key
    raw_links = event.get("links")
    links: list[Any] = raw_links if isinstance(raw_links, list) else []
    hrefs = (clean_url(link.get("href"), max_length=1000) for link in links if isinstance(link, dict))
    href = next((url for url in hrefs if url), "")
    annotations = {"custom_details": json.dumps(custom)} if custom is not None else {}
    return [
        Signal(
            fingerprint=short_key(dedup_key, MAX_KEY),
            group_key=short_key(group_key, MAX_GROUP_KEY),
            status=status,
            title=fields.get("summary", "")[:500] or dedup_key,
            occurred_at=occurred,
            starts_at=occurred if status == FIRING else None,
            ends_at=occurred if status == RESOLVED else None,
            severity=fields.get("severity", ""),
            labels={k: fields[k] for k in ("source", "component", "group", "class") if fields.get(k)},
            annotations=annotations,
            fields=fields,
            source_url=clean_url(event.get("client_url"), max_length=1000) or href,
        )
    ]
