"""The web process's snapshot poller: started and stopped with the server (ASGI
lifespan), it installs what another process published and backs off while Redis
is down."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from incidents.public import rebuild, store

pytestmark = pytest.mark.django_db


def _published_elsewhere() -> int:
    """A snapshot published by another process: in Redis, not in our memory."""
    version = rebuild.rebuild()
    assert version is not None
    store.forget()  # this process has not seen it
    return version


def _unreachable_redis() -> redis.Redis:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: connections are refused
    return redis.Redis(
        host="127.0.0.1", port=port, socket_timeout=0.2, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )


def test_a_step_installs_a_newer_snapshot_from_redis(world: Any) -> None:
    version = _published_elsewhere()
    assert store._current is None
    poller = store.Poller()
    assert poller.step() == store.POLL_SECONDS
    assert store.status()["version"] == version
    # Nothing newer: the next step changes nothing.
    assert poller.step() == store.POLL_SECONDS and store.status()["version"] == version


def test_while_redis_is_down_the_poller_backs_off_and_keeps_serving(world: Any, monkeypatch: Any) -> None:
    version = rebuild.rebuild()
    monkeypatch.setattr(store, "_client", _unreachable_redis())
    poller = store.Poller()
    assert [poller.step() for _ in range(7)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert store.current().version == version  # type: ignore[union-attr]
    monkeypatch.setattr(store, "_client", None)  # Redis is back
    assert poller.step() == store.POLL_SECONDS


def test_the_running_poller_picks_up_a_new_snapshot_by_itself(world: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(store, "POLL_SECONDS", 0.05)
    version = _published_elsewhere()
    poller = store.start_poller()
    try:
        deadline = time.monotonic() + 5
        while store._current is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.status() == {"version": version, "poller": True}
    finally:
        store.stop_poller()
    assert not poller.running and store.status()["poller"] is False


def test_the_server_starts_and_stops_the_poller_with_its_lifespan(snapshot_dir: Any) -> None:
    from portal.asgi import application

    sent: list[dict[str, Any]] = []
    states: list[bool] = []

    async def run() -> None:
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            states.append(store.status()["poller"])
            if message["type"] == "lifespan.startup.complete":
                await inbox.put({"type": "lifespan.shutdown"})

        await asyncio.wait_for(application({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send), 10)

    try:
        asyncio.run(run())
    finally:
        store.stop_poller()
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert states == [True, False]


def test_reading_the_snapshot_starts_no_thread(world: Any) -> None:
    rebuild.rebuild()
    store.forget()
    assert store.current() is not None
    assert store.status()["poller"] is False
