"""Broadcasts never hold up a request: they are handed off, not awaited."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings

from portal import realtime
from portal.tests.factories import declare


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """A server on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)  # read nothing, answer nothing

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def hanging_channel_layer(settings: Any, silent_redis: str) -> Iterator[None]:
    layers = {"default": {**django_settings.CHANNEL_LAYERS["default"]}}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "hosts": [{"address": silent_redis}]}
    settings.CHANNEL_LAYERS = layers  # channels resets its layers when the setting changes
    yield
    realtime.wait_for_broadcasts(realtime.SEND_TIMEOUT + 1)


def test_a_broadcast_to_a_hanging_redis_returns_at_once(hanging_channel_layer: None) -> None:
    started = time.monotonic()
    assert realtime.broadcast("dashboard", "incident.test", {"n": 1}) is True
    assert time.monotonic() - started < 0.2
    # The send itself is given up after SEND_TIMEOUT, not left pending for good.
    assert realtime.wait_for_broadcasts(realtime.SEND_TIMEOUT + 2)


def test_a_status_change_returns_quickly_while_redis_hangs(
    hanging_channel_layer: None, seeded_transactional_db: None, cast: Any, api: Any
) -> None:
    # Transactional: the broadcasts run after a real commit, as in production.
    incident = declare(by=cast.owner)
    started = time.monotonic()
    response = api.as_(cast.responder).post(
        f"/api/v1/incidents/INC-{incident.pk}/status/", {"status": "identified", "note": "Found it"}, format="json"
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "identified"
    # Committed, then two broadcasts (war room, dashboard) handed off: the old
    # inline wait was up to 5 s each.
    assert elapsed < 1.0


def test_broadcasts_beyond_the_bound_are_dropped_not_queued(hanging_channel_layer: None, monkeypatch: Any) -> None:
    monkeypatch.setattr(realtime, "_in_flight", threading.BoundedSemaphore(2))
    results = [realtime.broadcast("dashboard", "incident.test", {"n": n}) for n in range(3)]
    assert results == [True, True, False]


def test_a_broadcast_reaches_a_listening_group() -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("realtime-test", channel)
    try:
        assert realtime.broadcast("realtime-test", "incident.test", {"n": 7})
        assert realtime.wait_for_broadcasts()
        message = async_to_sync(layer.receive)(channel)
        assert message == {"type": realtime.MESSAGE_TYPE, "event": "incident.test", "payload": {"n": 7}}
    finally:
        async_to_sync(layer.group_discard)("realtime-test", channel)
