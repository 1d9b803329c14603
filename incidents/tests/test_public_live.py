"""Live status page: rebuilds after public changes, the `ws/public/` stream, and
catching up after a reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from incidents.public import rebuild, store
from incidents.public.tasks import rebuild_public_snapshot
from incidents.services import incident_add_note, incident_change_status, incident_post_update
from incidents.tests.public_support import SECRETS
from portal.realtime import PUBLIC_GROUP, broadcast
from portal.tests.factories import declare
from portal.tests.support import present

ORIGIN = [(b"origin", b"http://testserver")]


def _broker() -> redis.Redis:
    from portal.settings import _redis_db_url

    if settings.EMBEDDED_REDIS:
        return redis.Redis(unix_socket_path=str(settings.EMBEDDED_REDIS_SOCKET), db=settings.REDIS_DB_BROKER)
    return redis.Redis.from_url(_redis_db_url(settings.REDIS_DB_BROKER))


@pytest.mark.django_db
def test_a_burst_of_public_changes_enqueues_one_rebuild_and_internal_ones_none(
    cast: Any, snapshot_dir: Any, django_capture_on_commit_callbacks: Any
) -> None:
    broker = _broker()
    broker.delete("snapshots")
    incident = declare(by=cast.owner, visibility="public")
    with django_capture_on_commit_callbacks(execute=True):
        incident_add_note(incident=incident, body="internal only", by=cast.owner)
    assert broker.llen("snapshots") == 0
    with django_capture_on_commit_callbacks(execute=True):
        incident_change_status(incident=incident, status="identified", by=cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        incident_post_update(incident=incident, body="Found it", by=cast.owner)
    assert broker.llen("snapshots") == 1
    queued = broker.lindex("snapshots", 0)
    assert queued is not None
    message = json.loads(queued)
    assert message["headers"]["task"] == "incidents.public.rebuild_snapshot"
    # The task clears the flag before reading: the next change queues a new rebuild.
    assert rebuild_public_snapshot.apply().get() is not None
    with django_capture_on_commit_callbacks(execute=True):
        incident_change_status(incident=incident, status="monitoring", by=cast.owner)
    assert broker.llen("snapshots") == 2
    broker.delete("snapshots")


@pytest.mark.django_db
def test_a_public_change_reaches_the_page_through_the_task(
    client: Any, cast: Any, world: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    from portal.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    with django_capture_on_commit_callbacks(execute=True):
        incident_post_update(incident=world["public"], status="monitoring", body="A fix is out.", by=cast.owner)
    assert 'data-field="status">Monitoring<' in client.get("/status/").content.decode()


@pytest.mark.django_db
def test_the_periodic_rebuild_is_scheduled_on_the_snapshots_queue() -> None:
    from portal.celery import app

    entry = app.conf.beat_schedule["public-status-snapshot"]
    assert entry["task"] == rebuild_public_snapshot.name
    assert app.amqp.router.route({}, rebuild_public_snapshot.name)["queue"].name == "snapshots"


# --- the websocket stream ------------------------------------------------------


async def _connect() -> WebsocketCommunicator:
    from portal.asgi import application

    communicator = WebsocketCommunicator(application, "/ws/public/", headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _hello(communicator: WebsocketCommunicator, version: int) -> None:
    await communicator.send_to(text_data=json.dumps({"type": "hello", "version": version}))


@pytest.mark.django_db(transaction=True)
async def test_hello_gets_the_current_snapshot_only_when_newer(world: Any) -> None:
    version = present(await sync_to_async(rebuild.rebuild)())
    first = await _connect()
    await _hello(first, 0)
    message = await first.receive_json_from(timeout=3)
    assert message["type"] == "snapshot" and message["version"] == version
    assert 'data-field="status">Identified<' in message["html"]["incidents"]
    assert message["overall"] == {"indicator": "major", "description": "Partial System Outage"}
    await first.disconnect()

    current = await _connect()
    await _hello(current, version)
    assert await current.receive_nothing(timeout=0.3)
    await current.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_public_change_is_pushed_to_connected_clients_with_public_content_only(cast: Any, world: Any) -> None:
    await sync_to_async(rebuild.rebuild)()
    clients = [await _connect() for _ in range(3)]
    for c in clients:
        await _hello(c, present(store.current()).version)
    await sync_to_async(incident_post_update)(incident=world["public"], status="monitoring", body="A fix is out.", by=cast.owner)
    await sync_to_async(incident_add_note)(incident=world["public"], body="rotate the hsm keys", by=cast.owner)
    version = present(await sync_to_async(rebuild.rebuild)())
    for c in clients:
        text = await c.receive_from(timeout=3)
        message = json.loads(text)
        assert message["version"] == version
        assert 'data-field="status">Monitoring<' in message["html"]["incidents"]
        for secret in SECRETS:
            assert secret not in text and secret not in json.dumps(message, ensure_ascii=False)
        await c.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_other_events_on_the_public_group_are_never_relayed(world: Any) -> None:
    await sync_to_async(rebuild.rebuild)()
    client = await _connect()
    await _hello(client, present(store.current()).version)
    await sync_to_async(broadcast)(PUBLIC_GROUP, "incident.note_added", {"body": "rotate the hsm keys"})
    await sync_to_async(broadcast)(PUBLIC_GROUP, rebuild.EVENT, {"type": "other", "version": 10**18, "secret": "x"})
    assert await client.receive_nothing(timeout=0.5)
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_stream_is_read_only_and_refuses_oversized_messages(world: Any) -> None:
    await sync_to_async(rebuild.rebuild)()
    client = await _connect()
    await client.send_to(text_data=json.dumps({"type": "post_update", "body": "hi"}))
    await client.send_to(text_data="not json")
    assert await client.receive_nothing(timeout=0.3)
    await client.send_to(text_data="x" * 10_000)
    output = await client.receive_output(timeout=1)
    assert output == {"type": "websocket.close", "code": 1009}


@pytest.mark.django_db(transaction=True)
async def test_a_client_that_reconnects_catches_up_on_what_it_missed(cast: Any, world: Any) -> None:
    seen = present(await sync_to_async(rebuild.rebuild)())
    missed = present(store.current())
    client = await _connect()
    await _hello(client, seen)
    await client.disconnect()
    # While it is away: a change, published by a worker in another process. This
    # process's memory still holds the old snapshot (its poller has not run yet).
    await sync_to_async(incident_change_status)(incident=world["public"], status="resolved", by=cast.owner)
    latest = present(await sync_to_async(rebuild.rebuild)())
    store.forget()
    store.install(missed, write_file=False)

    back = await _connect()
    await _hello(back, seen)
    message = await back.receive_json_from(timeout=3)
    assert message["version"] == latest > seen
    assert f'data-incident-id="{world["public"].pk}"' not in message["html"]["incidents"]  # resolved: no longer active
    await back.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_still_in_its_handshake_gets_no_update() -> None:
    """An update fanned out while a socket waits for the hub would be sent before
    its accept, which breaks the handshake: it joins the fan-out only once accepted."""
    from incidents.public.consumer import _Hub

    class Socket:
        version = 0

        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, text_data: str) -> None:
            self.sent.append(text_data)

    hub = _Hub()
    # The hub's channel-layer loop is not under test: stand in a task that idles,
    # as the real one does between updates once it is in the group.
    hub.loop, hub.ready = asyncio.get_running_loop(), asyncio.Event()
    hub.ready.set()
    hub.task = asyncio.create_task(asyncio.sleep(3600))
    socket = Socket()
    try:
        await hub.join(socket)  # type: ignore[arg-type]
        await hub._send_all({"type": "snapshot", "version": 5})
        assert socket.sent == []
        hub.add(socket)  # type: ignore[arg-type]
        await hub._send_all({"type": "snapshot", "version": 6})
        assert len(socket.sent) == 1 and socket.version == 6
    finally:
        hub.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hub.task
