"""Broadcasts to websocket audiences, through the Channels layer.

Groups are scoped to an audience, never one global group filtered in consumers:
  incident-<id>   responders in that incident's war room (permission re-checked on send)
  dashboard       responders on the dashboard and lists
  public          anonymous readers of the status page: public payloads only

Call `broadcast` only after commit (from an `incidents.events` subscriber), never
from `save()` or signals. A broadcast is fire-and-forget: it is handed to the
process's broadcast loop and the caller goes on at once, so a slow or hanging
Redis never adds to a request whose data is already committed. A send that fails
or takes longer than SEND_TIMEOUT is logged and dropped, and so is a broadcast
while MAX_IN_FLIGHT others are still pending: the pages catch up from the
database on reconnect.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
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
# Long enough for a group of thousands of public pages; the caller never waits for it.
SEND_TIMEOUT = 5.0  # a send still pending after this long is dropped
MAX_IN_FLIGHT = 200  # beyond this many pending sends (Redis hanging), new ones are dropped

_in_flight = threading.BoundedSemaphore(MAX_IN_FLIGHT)
_pending: set[concurrent.futures.Future[None]] = set()
_pending_lock = threading.Lock()


async def _send(layer: Any, group: str, message: dict[str, Any]) -> None:
    try:
        await asyncio.wait_for(layer.group_send(group, message), SEND_TIMEOUT)
    except Exception:  # noqa: BLE001 - live pages are best effort; the database is the truth
        # During a Redis outage the breaker skips broadcasts for a few seconds at a time.
        redis_guard.channels.failed(f"broadcast to {group}")
        return
    redis_guard.channels.succeeded()


def _done(future: concurrent.futures.Future[None]) -> None:
    with _pending_lock:
        _pending.discard(future)
    _in_flight.release()


def broadcast(group: str, event: str, payload: dict[str, Any]) -> bool:
    """Hand the message to the broadcast loop; never waits for Redis.

    Returns whether it was handed off (False: no channel layer, or too many
    sends pending), not whether it reached anyone.
    """
    layer = get_channel_layer()
    if layer is None or not redis_guard.channels.allows():
        return False
    if not _in_flight.acquire(blocking=False):
        log.warning("broadcast to %s dropped: %d sends still pending", group, MAX_IN_FLIGHT)
        return False
    message = {"type": MESSAGE_TYPE, "event": event, "payload": payload}
    try:
        future = asyncio.run_coroutine_threadsafe(_send(layer, group, message), _layer_loop.loop())
    except Exception:  # noqa: BLE001 - the loop could not take it: drop, as for a failed send
        _in_flight.release()
        log.warning("broadcast to %s failed", group, exc_info=True)
        return False
    with _pending_lock:
        _pending.add(future)
    future.add_done_callback(_done)
    return True


def wait_for_broadcasts(timeout: float = SEND_TIMEOUT) -> bool:
    """Wait until the broadcasts handed off so far are sent or dropped (process
    shutdown, tests). True if none is left pending."""
    with _pending_lock:
        pending = list(_pending)
    _, not_done = concurrent.futures.wait(pending, timeout=timeout)
    return not not_done
