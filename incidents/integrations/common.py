"""What every parser produces: senders' formats reduced to one shape.

A parser validates a payload (`validate` returns the reasons it will never be
valid, so the view can answer 4xx) and turns it into `Signal`s: one per alert
and transition, carrying the sender's own time so that stale transitions can be
recognised whatever order deliveries are processed in.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

FIRING = "firing"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"

MAX_KEY = 255
MAX_GROUP_KEY = 512


@dataclass
class Signal:
    fingerprint: str
    group_key: str
    status: str  # firing | acknowledged | resolved
    title: str
    occurred_at: datetime  # the sender's time of this transition
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    severity: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)  # flat view for matchers: "labels.team" ...
    source_url: str = ""
    # The sender's event id when it has one (PagerDuty v3); otherwise the transition
    # is identified by status and time.
    event_id: str = ""
    # PagerDuty v3 only: an incident-level change rather than an alert transition.
    action: str = ""  # "", "reopen", "priority", "annotate"
    note: str = ""

    @property
    def transition_id(self) -> str:
        return self.event_id or f"{self.status}@{self.occurred_at.isoformat()}"


class PayloadInvalid(Exception):
    """The payload will never be valid: the sender should drop it (4xx)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 as senders write it; Go's zero time means "not set"."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_datetime(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year <= 1:
        return None
    return parsed


def is_time(value: Any) -> bool:
    return isinstance(value, str) and (parse_time(value) is not None or value.startswith("0001-01-01"))


def flatten(prefix: str, mapping: Any) -> dict[str, str]:
    if not isinstance(mapping, dict):
        return {}
    return {f"{prefix}.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in mapping.items()}


def str_dict(mapping: Any) -> dict[str, str]:
    if not isinstance(mapping, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in mapping.items()}


def short_key(key: str, limit: int) -> str:
    """Keys longer than a column keep their identity through a hash."""
    if len(key) <= limit:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def labels_fingerprint(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
