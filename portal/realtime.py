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

import asyncio
import logging
import os
import threading
from typing import Any

from channels.layers import get_channel_layer

from portal import redis_guard

log = logging.getLogger(__name__)

MESSAGE_TYPE = "portal.event"  # consumers implement `portal_event(self, message)`


def incident_group(incident_id: int) -> str:
    return f"incident-{incident_id}"


DASHBOARD_GROUP = "dashboard"
PUBLIC_GROUP = "public"


class _LayerLoop:
    """One event loop per process, in a daemon thread, for sending from sync code.

    `async_to_sync` would start a fresh event loop for every call, and
    channels_redis keeps its connection pools per loop, so each broadcast would
    pay for a new Redis connection. Keeping one loop keeps the pool warm. The
    loop is recreated after a fork (Celery's prefork children).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="portal-broadcast", daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop


_layer_loop = _LayerLoop()
# Long enough for a group of thousands of public pages. Broadcasts run on a
# request's thread after commit: a Redis that does not answer costs this once,
# then redis_guard.channels skips broadcasts for a few seconds at a time.
SEND_TIMEOUT = 5.0


def broadcast(group: str, event: str, payload: dict[str, Any]) -> bool:
    layer = get_channel_layer()
    if layer is None or not redis_guard.channels.allows():
        return False
    message = {"type": MESSAGE_TYPE, "event": event, "payload": payload}
    try:
        future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _layer_loop.loop())
        future.result(timeout=SEND_TIMEOUT)
    except Exception:  # noqa: BLE001 - live pages are best effort; the database is the truth
        redis_guard.channels.failed(f"broadcast to {group}")
        return False
    redis_guard.channels.succeeded()
    return True
