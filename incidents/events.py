"""After-commit side effects of domain changes.

Services call `publish(...)` inside their transaction; nothing happens unless the
transaction commits. Subscribers (live pages, the public snapshot, notifications)
register with `subscribe`. They receive primary keys, never model instances, and
must not raise: a failing subscriber is logged and the others still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DomainEvent:
    kind: str  # e.g. "incident.status_changed"
    incident_id: int | None = None
    public: bool = False  # whether anything the public sees may have changed
    data: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[DomainEvent], None]
_subscribers: list[Subscriber] = []


def subscribe(fn: Subscriber) -> Subscriber:
    if fn not in _subscribers:
        _subscribers.append(fn)
    return fn


def unsubscribe(fn: Subscriber) -> None:
    if fn in _subscribers:
        _subscribers.remove(fn)


def _deliver(event: DomainEvent) -> None:
    for fn in list(_subscribers):
        try:
            fn(event)
        except Exception:  # noqa: BLE001 - one broken subscriber must not stop the others
            log.exception("event subscriber %r failed for %s", fn, event.kind)


def publish(kind: str, *, incident_id: int | None = None, public: bool = False, **data: Any) -> None:
    event = DomainEvent(kind=kind, incident_id=incident_id, public=public, data=data)
    transaction.on_commit(lambda: _deliver(event))
