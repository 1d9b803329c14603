"""Broadcasts to websocket audiences, through the Channels layer.

Groups are scoped to an audience, never one global group filtered in consumers:
  incident-<id>   responders in that incident's war room (permission re-checked on send)
  dashboard       responders on the dashboard and lists
  public          anonymous readers of the status page: public payloads only

Call `broadcast` only after commit (from an `incidents.events` subscriber), never
from `save()` or signals. A broadcast that fails (Redis down) is logged and
dropped: the pages catch up from the database on reconnect.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

MESSAGE_TYPE = "portal.event"  # consumers implement `portal_event(self, message)`


def incident_group(incident_id: int) -> str:
    return f"incident-{incident_id}"


DASHBOARD_GROUP = "dashboard"
PUBLIC_GROUP = "public"


def broadcast(group: str, event: str, payload: dict[str, Any]) -> bool:
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        async_to_sync(layer.group_send)(group, {"type": MESSAGE_TYPE, "event": event, "payload": payload})
    except Exception:  # noqa: BLE001 - live pages are best effort; the database is the truth
        log.warning("broadcast to %s failed", group, exc_info=True)
        return False
    return True
