"""What every parser produces: senders' formats reduced to one shape.

A parser validates a payload (`validate` returns the reasons it will never be
valid, so the view can answer 4xx) and turns it into `Signal`s: one per alert
and transition, carrying the sender's own time so that stale transitions can be
recognised whatever order deliveries are processed in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from portal.text import clean_mapping, clean_text

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


def check_alerts(items: list[Any], check: Callable[[str, Any], list[str]], where: Callable[[int], str]) -> list[str]:
    """Per-alert errors of a multi-alert payload. One bad alert must not take its
    neighbours down, so only a payload whose every alert is bad is refused whole;
    otherwise the bad ones are skipped and their errors recorded on the delivery."""
    errors: list[str] = []
    bad = 0
    for index, item in enumerate(items):
        found = check(where(index), item)
        bad += bool(found)
        errors += found
    if items and bad == len(items):
        raise PayloadInvalid(errors)
    return errors


ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 as senders write it, in UTC; Go's zero time means "not set".

    Kept in UTC because RFC 3339 allows offsets up to ±23:59 and PostgreSQL refuses
    any beyond ±15:59: a valid `+23:59` must not become a row that never stores."""
    if not isinstance(value, str) or not value or len(value) > 64:
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
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 9999 with a negative offset: past datetime.max in UTC
        return None


def is_time(value: Any) -> bool:
    return isinstance(value, str) and (parse_time(value) is not None or value.startswith("0001-01-01"))


def flatten(prefix: str, mapping: Any) -> dict[str, str]:
    return {f"{prefix}.{k}": v for k, v in str_dict(mapping).items()}


def str_dict(mapping: Any) -> dict[str, str]:
    """Labels, annotations, details: str→str, cleaned (no NUL, control characters
    or lone surrogates, which PostgreSQL or UTF-8 refuse), non-strings as JSON."""
    if not isinstance(mapping, dict):
        return {}
    return clean_mapping({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in mapping.items()})


def text(value: Any, limit: int) -> str:
    """A single-line value from a payload (title, fingerprint, key), cleaned and cut."""
    return clean_text(value, max_length=limit)


def short_key(key: str, limit: int) -> str:
    """Keys longer than a column keep their identity through a hash."""
    if len(key) <= limit:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def labels_fingerprint(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
