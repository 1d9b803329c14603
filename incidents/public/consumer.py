"""The public websocket stream: anonymous, read-only, public payloads only.

Each web process has one member of group `public` (the hub below), which
writes the live part of each new snapshot to every open public socket. On
connect a client says which version it shows ({"type": "hello", "version": N});
if a newer one exists it gets it at once, so nothing is lost across a reconnect.
Only snapshot messages are forwarded: whatever else might be sent to the group,
this consumer never relays it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer

from incidents import sockets
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


class _Hub:
    """One member of group `public` per web process, fanning out to the open
    public sockets of this process.

    A channel per socket would make the channel layer wake one task per reader
    for every update; at 10,000 readers that, not the network, is the cost. The
    hub receives each update once and writes it to every socket, encoded once.
    """

    GROUP_REFRESH = 3600.0  # re-join well before channels_redis's group expiry

    def __init__(self) -> None:
        self.clients: set[PublicStatusConsumer] = set()
        self.task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready: asyncio.Event | None = None

    async def join(self, client: PublicStatusConsumer) -> None:
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.loop is not loop:
            self.loop, self.ready, self.clients = loop, asyncio.Event(), set()
            self.task = loop.create_task(self._run())
        assert self.ready is not None
        # A socket accepted before the hub is in the group could miss an update.
        await asyncio.wait_for(self.ready.wait(), timeout=5)

    def add(self, client: PublicStatusConsumer) -> None:
        """Fan out to `client` from now on. Only once its handshake is accepted: an
        update sent before the accept would break the handshake (ASGI refuses a send
        on a socket not yet accepted). What it missed meanwhile, its hello catches up."""
        self.clients.add(client)

    def leave(self, client: PublicStatusConsumer) -> None:
        self.clients.discard(client)

    async def _run(self) -> None:
        layer = get_channel_layer()
        assert layer is not None and self.ready is not None
        delay = 0.5
        while True:
            try:
                channel = await layer.new_channel()
                await layer.group_add(PUBLIC_GROUP, channel)
                joined = time.monotonic()
                if self.ready.is_set():
                    await self._catch_up()  # back after an outage: push what was missed
                self.ready.set()
                delay = 0.5
                while True:
                    message = await layer.receive(channel)
                    await self.fan_out(message)
                    if time.monotonic() - joined > self.GROUP_REFRESH:
                        await layer.group_add(PUBLIC_GROUP, channel)
                        joined = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis down: retry with backoff, sockets stay open
                log.warning("public stream lost the channel layer; retrying in %.1fs", delay, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(30.0, delay * 2)

    async def _catch_up(self) -> None:
        await sync_to_async(_refresh_quietly, thread_sensitive=False)()
        snap = store._current
        if snap is not None:
            await self._send_all(snap.live)

    async def fan_out(self, message: dict[str, Any]) -> None:
        if message.get("type") != "portal.event" or message.get("event") != EVENT:
            return
        live = message.get("payload") or {}
        if live.get("type") != "snapshot":
            return
        await self._send_all(live)

    async def _send_all(self, live: dict[str, Any]) -> None:
        version = int(live.get("version", 0))
        text = _encode(live)
        for n, client in enumerate(list(self.clients)):
            if client.version >= version:
                continue
            client.version = version
            try:
                await client.send(text_data=text)
            except Exception:  # noqa: BLE001 - a socket closing mid-send must not stop the others
                self.clients.discard(client)
            if n % 500 == 499:
                await asyncio.sleep(0)  # let handshakes and other requests in


_hub = _Hub()


class PublicStatusConsumer(AsyncWebsocketConsumer):
    # No channel per socket: the process's hub is the member of group `public`.
    channel_layer_alias = "__public_hub__"
    counted = False  # in the open-socket count (incidents/sockets.py)

    async def connect(self) -> None:
        self.version = 0
        try:
            await _hub.join(self)
        except Exception:  # noqa: BLE001 - no channel layer: refuse, the page retries with backoff
            _hub.leave(self)
            log.warning("public websocket refused: channel layer unavailable", exc_info=True)
            await self.close(code=1013)
            return
        await self.accept()
        _hub.add(self)
        sockets.opened(sockets.PUBLIC)
        self.counted = True

    async def disconnect(self, code: int) -> None:
        _hub.leave(self)
        if self.counted:
            sockets.closed(sockets.PUBLIC)
            self.counted = False

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
