"""Prometheus Alertmanager webhook payloads, version 4.

Alertmanager posts a whole group at once: every alert of the group with its own
status. A firing alert's transition time is its `startsAt`; a resolved alert's
is its `endsAt`. A firing alert re-fired after resolution comes back with a new
`startsAt`, which is how a new cycle is told apart from a late repeat.
"""

from __future__ import annotations

import json
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
    is_time,
    labels_fingerprint,
    parse_time,
    short_key,
    str_dict,
    text,
)
from portal.text import clean_text, clean_url


def alert_errors(where: str, alert: Any) -> list[str]:
    """Why one alert of a group cannot be applied; [] when it can."""
    if not isinstance(alert, dict):
        return [f"{where} must be an object."]
    errors: list[str] = []
    if alert.get("status") not in (FIRING, RESOLVED):
        errors.append(f"{where}.status must be 'firing' or 'resolved'.")
    if not isinstance(alert.get("labels"), dict) or not str_dict(alert["labels"]):
        errors.append(f"{where}.labels must be a non-empty object.")
    if not is_time(alert.get("startsAt")) or (alert.get("status") == FIRING and parse_time(alert.get("startsAt")) is None):
        errors.append(f"{where}.startsAt must be an RFC 3339 time.")
    if alert.get("status") == RESOLVED and parse_time(alert.get("endsAt")) is None:
        errors.append(f"{where}.endsAt must be an RFC 3339 time for a resolved alert.")
    if "fingerprint" in alert and not isinstance(alert["fingerprint"], str):
        errors.append(f"{where}.fingerprint must be a string.")
    return errors


def validate(payload: Any) -> list[str]:
    """Refuse a payload that is not a version 4 webhook, or whose every alert is bad;
    return the errors of the bad alerts of an otherwise good group."""
    if not isinstance(payload, dict):
        raise PayloadInvalid(["The body must be a JSON object (Alertmanager webhook payload version 4)."])
    errors: list[str] = []
    if str(payload.get("version", "")) != "4":
        errors.append(f"Unsupported payload version {clean_text(payload.get('version'), max_length=20)!r}: version \"4\" is expected.")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadInvalid([*errors, "'alerts' must be a list."])
    try:
        skipped = check_alerts(alerts, alert_errors, lambda index: f"alerts[{index}]")
    except PayloadInvalid as exc:
        raise PayloadInvalid(errors + exc.errors) from None
    if errors:
        raise PayloadInvalid(errors + skipped)
    return skipped


def group_key_for(payload: dict[str, Any], labels: dict[str, str], group_by: list[str]) -> str:
    if group_by:
        return json.dumps({name: labels.get(name, "") for name in group_by}, sort_keys=True)
    key = text(payload.get("groupKey"), 100_000) if isinstance(payload.get("groupKey"), str) else ""
    if key:
        return key
    return json.dumps(str_dict(payload.get("groupLabels")), sort_keys=True)


def parse(payload: dict[str, Any], *, group_by: list[str], assigned_key: str = "") -> list[Signal]:
    signals = []
    for index, alert in enumerate(payload["alerts"]):
        if alert_errors(f"alerts[{index}]", alert):
            continue  # recorded on the delivery by validate(); its neighbours go on
        labels = str_dict(alert.get("labels"))
        annotations = str_dict(alert.get("annotations"))
        starts_at = parse_time(alert.get("startsAt"))
        ends_at = parse_time(alert.get("endsAt"))
        status = alert["status"]
        occurred = (ends_at if status == RESOLVED else starts_at) or starts_at or ends_at
        assert occurred is not None  # validate() guarantees a time
        fingerprint = text(alert.get("fingerprint"), 100_000) or labels_fingerprint(labels)
        fields = {"status": status, "receiver": text(payload.get("receiver"), 255)}
        fields.update(flatten("labels", labels))
        fields.update(flatten("annotations", annotations))
        title = annotations.get("summary") or labels.get("alertname") or fingerprint
        signals.append(
            Signal(
                fingerprint=short_key(fingerprint, MAX_KEY),
                group_key=short_key(group_key_for(payload, labels, group_by), MAX_GROUP_KEY),
                status=status,
                title=text(title, 500),
                occurred_at=occurred,
                starts_at=starts_at,
                ends_at=ends_at if status == RESOLVED else None,
                severity=labels.get("severity", ""),
                labels=labels,
                annotations=annotations,
                fields=fields,
                source_url=clean_url(alert.get("generatorURL"), max_length=1000),
            )
        )
    return signals
