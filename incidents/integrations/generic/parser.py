"""Generic JSON: one alert object, or {"alerts": [...]} of them.

    {"fingerprint": "disk-full-db1", "status": "firing" | "resolved",
     "title": "Disk full on db1", "severity": "critical",
     "group_key": "db1" (optional, default: the fingerprint),
     "labels": {...}, "occurred_at": "2024-05-01T10:00:00Z" (optional), "url": "..."}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from incidents.integrations.common import (
    FIRING,
    MAX_GROUP_KEY,
    MAX_KEY,
    RESOLVED,
    PayloadInvalid,
    Signal,
    check_alerts,
    flatten,
    parse_time,
    short_key,
    str_dict,
    text,
)
from portal.text import clean_url


def _alerts(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and "alerts" in payload:
        return payload["alerts"] if isinstance(payload["alerts"], list) else [None]
    return [payload]


def alert_errors(where: str, alert: Any) -> list[str]:
    """Why one alert cannot be applied; [] when it can."""
    if not isinstance(alert, dict):
        return [f"{where} must be a JSON object."]
    errors: list[str] = []
    fingerprint = alert.get("fingerprint")
    if not isinstance(fingerprint, str) or not text(fingerprint, MAX_KEY + 1):
        errors.append(f"{where}.fingerprint is required (a string).")
    elif len(text(fingerprint, MAX_KEY + 1)) > MAX_KEY:
        errors.append(f"{where}.fingerprint must have at most {MAX_KEY} characters.")
    if alert.get("status", FIRING) not in (FIRING, RESOLVED):
        errors.append(f"{where}.status must be 'firing' or 'resolved'.")
    if alert.get("status", FIRING) == FIRING and not text(alert.get("title"), 500):
        errors.append(f"{where}.title is required for a firing alert.")
    if alert.get("occurred_at") is not None and parse_time(alert.get("occurred_at")) is None:
        errors.append(f"{where}.occurred_at must be an ISO 8601 time.")
    if alert.get("labels") is not None and not isinstance(alert.get("labels"), dict):
        errors.append(f"{where}.labels must be an object.")
    return errors


def _where(payload: Any, alerts: list[Any]) -> Callable[[int], str]:
    listed = len(alerts) > 1 or isinstance(payload, dict) and "alerts" in payload
    return lambda index: f"alerts[{index}]" if listed else "body"


def validate(payload: Any) -> list[str]:
    """Refuse a payload whose every alert is bad; return the errors of the bad ones
    in an otherwise good list."""
    alerts = _alerts(payload)
    if not alerts:
        raise PayloadInvalid(["'alerts' must not be empty."])
    return check_alerts(alerts, alert_errors, _where(payload, alerts))


def parse(payload: Any, *, received_at: datetime, group_by: list[str]) -> list[Signal]:
    signals = []
    alerts = _alerts(payload)
    where = _where(payload, alerts)
    for index, alert in enumerate(alerts):
        if alert_errors(where(index), alert):
            continue  # recorded on the delivery by validate(); its neighbours go on
        labels = str_dict(alert.get("labels"))
        status = alert.get("status", FIRING)
        occurred = parse_time(alert.get("occurred_at")) or received_at
        fields = {"status": status, "severity": text(alert.get("severity"), 255)}
        fields.update(flatten("labels", labels))
        fingerprint = text(alert["fingerprint"], MAX_KEY)
        if group_by:
            group_key = json.dumps({n: labels.get(n, "") for n in group_by}, sort_keys=True)
        else:
            group_key = text(alert.get("group_key"), 100_000) or fingerprint
        signals.append(
            Signal(
                fingerprint=fingerprint,
                group_key=short_key(group_key, MAX_GROUP_KEY),
                status=status,
                title=text(alert.get("title"), 500) or fingerprint,
                occurred_at=occurred,
                starts_at=occurred if status == FIRING else None,
                ends_at=occurred if status == RESOLVED else None,
                severity=fields["severity"],
                labels=labels,
                fields=fields,
                source_url=clean_url(alert.get("url"), max_length=1000),
            )
        )
    return signals
