"""Live responder pages: domain events out to the war-room and dashboard audiences.

Subscribed to `incidents.events` (from IncidentsConfig.ready), so it runs only
after the service's transaction commits. It sends small typed payloads, not
HTML: each open page re-fetches the fragments it shows through its own
authenticated request, so what a person sees is always rendered for them and
checked against their role at that moment.
"""

from __future__ import annotations

from typing import Any, TypedDict

from django.utils import timezone

from incidents import events
from incidents.events import DomainEvent
from portal.realtime import DASHBOARD_GROUP, broadcast, incident_group

# Kinds that change what the dashboard shows (open incidents, timers, the service
# board, which names services and groups and orders severities).
DASHBOARD_PREFIXES = ("incident.", "maintenance.", "catalog.")


class LivePayload(TypedDict):
    """What a responder page receives, as `{"event": kind, "payload": LivePayload}`."""

    kind: str
    incident_id: int | None
    reference: str | None
    at: str
    data: dict[str, Any]


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    # Only JSON scalars travel: event data is ids and enum values by contract, and
    # anything else (an instance passed by mistake) must not reach a browser.
    return {k: v for k, v in data.items() if isinstance(v, (str, int, float, bool)) or v is None}


def payload_for(event: DomainEvent) -> LivePayload:
    return LivePayload(
        kind=event.kind,
        incident_id=event.incident_id,
        reference=f"INC-{event.incident_id}" if event.incident_id is not None else None,
        at=timezone.now().isoformat(),
        data=_plain(event.data),
    )


def on_event(event: DomainEvent) -> None:
    payload = payload_for(event)
    if event.incident_id is not None:
        broadcast(incident_group(event.incident_id), event.kind, dict(payload))
    if event.kind.startswith(DASHBOARD_PREFIXES):
        broadcast(DASHBOARD_GROUP, event.kind, dict(payload))



def connect() -> None:
    """Subscribe the live pages to domain events; called from IncidentsConfig.ready(),
    safe to call again (a subscriber is registered once)."""
    events.subscribe(on_event)
