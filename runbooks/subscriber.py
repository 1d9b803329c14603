"""Runbooks follow the incident core's domain events: an incident that opens at a
severity (or moves to one) with a checklist attached starts that checklist.

Subscribers run after the incident's transaction committed; the runs are written in
their own transaction. The core never imports this module: `connect()` is called
from RunbooksConfig.ready().
"""

from __future__ import annotations

from incidents import events

# An incident opens at a severity, or is raised to one, or services are added to it.
_STARTS_CHECKLISTS = {"incident.declared", "incident.severity_changed", "incident.impact_changed"}


def on_event(event: events.DomainEvent) -> None:
    if event.incident_id is None or event.kind not in _STARTS_CHECKLISTS:
        return
    from runbooks.services.checklists import checklists_start

    checklists_start(incident_id=event.incident_id)


def connect() -> None:
    events.subscribe(on_event)  # subscribing twice is a no-op


def disconnect() -> None:
    events.unsubscribe(on_event)
