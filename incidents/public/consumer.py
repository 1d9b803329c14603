"""The public websocket stream: anonymous, read-only, public payloads only.

Clients join group `public` and receive the live part of each new snapshot. On
connect a client says which version it shows ({"type": "hello", "version": N});
if a newer one exists it gets it at once, so nothing is lost across a reconnect.
Only snapshot messages are forwarded: whatever else might be sent to the group,
this consumer never relays it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from incidents.public import store
from incidents.public.rebuild import EVENT
from portal.realtime import PUBLIC_GROUP

log = logging.getLogger(__name__)

MAX_CLIENT_MESSAGE = 256  # bytes: a hello is ~40

# One encoding per version per process, not one per client.
_encoded: tuple[int, str] = (0, "")
# Single-flight refresh from Redis, shared by all hellos of this process.
_refresh_task: asyncio.Future[Any] | None = None
_refresh_generation = 0


def _encode(live: dict[str, Any]) -> str:
    global _encoded
    version = int(live["version"])
    if _encoded[0] != version:
        _encoded = (version, json.dumps(live, separators=(",", ":")))
    return _encoded[1]


def _refresh_quietly() -> None:
    try:
        store.refresh()
    except Exception:  # noqa: BLE001 - Redis down: answer from memory
        log.debug("snapshot refresh failed", exc_info=True)


async def _refresh_after(generation: int) -> None:
    """Wait for a refresh that started after `generation`: one that began earlier
    may have read Redis before the version this client is missing was stored."""
    global _refresh_task, _refresh_generation
    while True:
        task = _refresh_task
        if task is not None and not task.done():
            started = _refresh_generation
            await asyncio.shield(task)
            if started > generation:
                return
            continue
        _refresh_generation += 1
        _refresh_task = asyncio.ensure_future(sync_to_async(_refresh_quietly, thread_sensitive=False)())
        await asyncio.shield(_refresh_task)
        return


class PublicStatusConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.version = 0
        try:
            await self.channel_layer.group_add(PUBLIC_GROUP, self.channel_name)
        except Exception:  # noqa: BLE001 - no channel layer: refuse, the page retries with backoff
            log.warning("public websocket refused: channel layer unavailable", exc_info=True)
            await self.close(code=1013)
            return
        await self.accept()

    async def disconnect(self, code: int) -> None:
        try:
            await self.channel_layer.group_discard(PUBLIC_GROUP, self.channel_name)
        except Exception:  # noqa: BLE001 - membership expires on its own
            pass

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data) > MAX_CLIENT_MESSAGE:
            await self.close(code=1009 if text_data else 1003)
            return
        try:
            message = json.loads(text_data)
            seen = int(message.get("version") or 0) if message.get("type") == "hello" else None
        except (ValueError, TypeError, AttributeError):
            seen = None
        if seen is None:
            return  # read-only stream: anything but a hello is ignored
        self.version = max(self.version, seen)
        generation = _refresh_generation
        snap = store.current() if store._current is not None else await sync_to_async(store.current, thread_sensitive=False)()
        if snap is None or snap.version <= self.version:
            await _refresh_after(generation)
            snap = store._current
        if snap is not None and snap.version > self.version:
            self.version = snap.version
            await self.send(text_data=_encode(snap.live))

    async def portal_event(self, message: dict[str, Any]) -> None:
        if message.get("event") != EVENT:
            return
        live = message.get("payload") or {}
        if live.get("type") != "snapshot" or int(live.get("version", 0)) <= self.version:
            return
        self.version = int(live["version"])
        await self.send(text_data=_encode(live))
