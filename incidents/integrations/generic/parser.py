"""Generic JSON: one alert object, or {"alerts": [...]} of them.

    {"fingerprint": "disk-full-db1", "status": "firing" | "resolved",
     "title": "Disk full on db1", "severity": "critical",
     "group_key": "db1" (optional, default: the fingerprint),
     "labels": {...}, "occurred_at": "2024-05-01T10:00:00Z" (optional), "url": "..."}
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from incidents.integrations.common import (
    FIRING,
    MAX_GROUP_KEY,
    MAX_KEY,
    RESOLVED,
    PayloadInvalid,
    Signal,
    flatten,
    parse_time,
    short_key,
    str_dict,
)


def _alerts(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and "alerts" in payload:
        return payload["alerts"] if isinstance(payload["alerts"], list) else [None]
    return [payload]


def validate(payload: Any) -> None:
    errors: list[str] = []
    alerts = _alerts(payload)
    if not alerts:
        errors.append("'alerts' must not be empty.")
    for index, alert in enumerate(alerts):
        where = f"alerts[{index}]" if len(alerts) > 1 or isinstance(payload, dict) and "alerts" in payload else "body"
        if not isinstance(alert, dict):
            errors.append(f"{where} must be a JSON object.")
            continue
        if not isinstance(alert.get("fingerprint"), str) or not alert["fingerprint"].strip():
            errors.append(f"{where}.fingerprint is required (a string).")
        elif len(alert["fingerprint"]) > MAX_KEY:
            errors.append(f"{where}.fingerprint must have at most {MAX_KEY} characters.")
        if alert.get("status", FIRING) not in (FIRING, RESOLVED):
            errors.append(f"{where}.status must be 'firing' or 'resolved'.")
        if alert.get("status", FIRING) == FIRING and not str(alert.get("title") or "").strip():
            errors.append(f"{where}.title is required for a firing alert.")
        if alert.get("occurred_at") is not None and parse_time(alert.get("occurred_at")) is None:
            errors.append(f"{where}.occurred_at must be an ISO 8601 time.")
        if alert.get("labels") is not None and not isinstance(alert.get("labels"), dict):
            errors.append(f"{where}.labels must be an object.")
    if errors:
        raise PayloadInvalid(errors)


def parse(payload: Any, *, received_at: datetime, group_by: list[str]) -> list[Signal]:
    signals = []
    for alert in _alerts(payload):
        labels = str_dict(alert.get("labels"))
        status = alert.get("status", FIRING)
        occurred = parse_time(alert.get("occurred_at")) or received_at
        fields = {"status": status, "severity": str(alert.get("severity") or "")}
        fields.update(flatten("labels", labels))
        fingerprint = alert["fingerprint"].strip()
        if group_by:
            group_key = json.dumps({n: labels.get(n, "") for n in group_by}, sort_keys=True)
        else:
            group_key = str(alert.get("group_key") or fingerprint)
        signals.append(
            Signal(
                fingerprint=fingerprint,
                group_key=short_key(group_key, MAX_GROUP_KEY),
                status=status,
                title=str(alert.get("title") or fingerprint)[:500],
                occurred_at=occurred,
                starts_at=occurred if status == FIRING else None,
                ends_at=occurred if status == RESOLVED else None,
                severity=fields["severity"],
                labels=labels,
                fields=fields,
                source_url=str(alert.get("url") or "")[:1000],
            )
        )
    return signals
