"""Paging and channel notifications follow the incident core's domain events.

Subscribers run after the incident's transaction committed; they store the paging
state and deliveries in their own transactions and enqueue the work after that
commit. Should this fail, the beat sweeper starts the paging that was missed.
"""

from __future__ import annotations

import logging

from incidents import events

log = logging.getLogger(__name__)

# Events after which an active escalation may have to stop (any first human action
# acknowledges an incident; resolution stops paging).
_MAY_ACKNOWLEDGE = {
    "incident.acknowledged", "incident.status_changed", "incident.note_added", "incident.role_changed",
    "incident.severity_changed", "incident.impact_changed", "incident.public_update_posted", "incident.details_changed",
    "incident.visibility_changed",
}


def on_event(event: events.DomainEvent) -> None:
    if event.incident_id is None or not event.kind.startswith("incident."):
        return
    from incidents.oncall.paging import escalation_check, escalation_start
    from incidents.oncall.reminders import channels_on_event

    if event.kind in ("incident.declared", "incident.severity_changed", "incident.status_changed"):
        # Writes the paging state only (one query when the severity does not page);
        # the steps themselves run in the worker.
        escalation_start(incident_id=event.incident_id)
    if event.kind in _MAY_ACKNOWLEDGE:
        escalation_check(incident_id=event.incident_id)
    channels_on_event(event)



def connect() -> None:
    """Subscribe the paging and channel notifications to domain events; called from IncidentsConfig.ready(),
    safe to call again (a subscriber is registered once)."""
    events.subscribe(on_event)
