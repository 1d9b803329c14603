"""Websockets for responders, through the real ASGI application (session auth, origin
check, routing) and the real channel layer."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator  # the package __init__ needs daphne
from django.conf import settings
from django.test import Client

from incidents import services
from incidents.consumers import CLOSE_FORBIDDEN
from incidents.events import DomainEvent
from incidents.live import payload_for
from portal.asgi import application
from portal.tests.factories import declare

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("seeded_transactional_db")]



def _session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def open_socket(path: str, user: Any = None) -> tuple[WebsocketCommunicator, bool, Any]:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if user is not None:
        cookie = await database_sync_to_async(_session_cookie)(user)
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def open_and_greet(path: str, user: Any) -> WebsocketCommunicator:
    communicator, connected, _ = await open_socket(path, user)
    assert connected
    hello = await communicator.receive_json_from(timeout=5)
    assert hello["event"] == "hello"
    return communicator


@pytest.fixture
def incident(cast: Any) -> Any:
    return declare(by=cast.responder, title="Checkout is failing", visibility="public", impacts={cast.service: "major_outage"})


async def test_anonymous_visitors_are_refused_before_accept(cast: Any, incident: Any) -> None:
    for path in [f"/ws/incidents/{incident.pk}/", "/ws/dashboard/"]:
        communicator, connected, _ = await open_socket(path)
        assert not connected
        await communicator.disconnect()


async def test_inactive_accounts_are_refused(cast: Any, incident: Any) -> None:
    communicator, connected, _ = await open_socket(f"/ws/incidents/{incident.pk}/", cast.outsider)
    assert not connected
    await communicator.disconnect()


async def test_a_foreign_origin_is_refused(cast: Any, incident: Any) -> None:
    cookie = await database_sync_to_async(_session_cookie)(cast.viewer)
    headers = [(b"origin", b"https://evil.example"), (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]
    communicator = WebsocketCommunicator(application, f"/ws/incidents/{incident.pk}/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert not connected
    await communicator.disconnect()


async def test_an_unknown_incident_is_refused(cast: Any) -> None:
    communicator, connected, _ = await open_socket("/ws/incidents/987654/", cast.viewer)
    assert not connected
    await communicator.disconnect()


async def test_a_war_room_receives_a_typed_event_after_commit(cast: Any, incident: Any) -> None:
    communicator = await open_and_greet(f"/ws/incidents/{incident.pk}/", cast.viewer)
    await database_sync_to_async(services.incident_change_status)(incident=incident.pk, status="identified", by=cast.responder)
    message = await communicator.receive_json_from(timeout=5)
    assert message["event"] == "incident.status_changed"
    payload = message["payload"]
    assert payload["kind"] == "incident.status_changed"
    assert payload["incident_id"] == incident.pk and payload["reference"] == incident.reference
    assert payload["data"] == {"status": "identified"}
    assert set(payload) == {"kind", "incident_id", "reference", "at", "data"}
    await communicator.disconnect()


async def test_events_of_one_incident_do_not_reach_another_war_room(cast: Any, incident: Any) -> None:
    other = await database_sync_to_async(declare)(by=cast.responder, title="Other")
    communicator = await open_and_greet(f"/ws/incidents/{other.pk}/", cast.viewer)
    await database_sync_to_async(services.incident_add_note)(incident=incident.pk, body="Only for the first", by=cast.responder)
    assert await communicator.receive_nothing(timeout=0.5)
    await database_sync_to_async(services.incident_add_note)(incident=other.pk, body="For this one", by=cast.responder)
    message = await communicator.receive_json_from(timeout=5)
    assert message["event"] == "incident.note_added" and message["payload"]["incident_id"] == other.pk
    await communicator.disconnect()


async def test_the_dashboard_receives_every_incident_and_maintenance_change(cast: Any, incident: Any) -> None:
    communicator = await open_and_greet("/ws/dashboard/", cast.viewer)
    await database_sync_to_async(services.incident_change_status)(incident=incident.pk, status="monitoring", by=cast.responder)
    message = await communicator.receive_json_from(timeout=5)
    assert message["event"] == "incident.status_changed" and message["payload"]["incident_id"] == incident.pk
    new = await database_sync_to_async(declare)(by=cast.responder, title="Second")
    message = await communicator.receive_json_from(timeout=5)
    assert message["event"] == "incident.declared" and message["payload"]["incident_id"] == new.pk
    await communicator.disconnect()


async def test_an_account_made_inactive_stops_receiving_and_is_disconnected(cast: Any, incident: Any) -> None:
    communicator = await open_and_greet(f"/ws/incidents/{incident.pk}/", cast.responder)
    cast.responder.is_active = False
    await database_sync_to_async(cast.responder.save)(update_fields=["is_active"])
    await database_sync_to_async(services.incident_add_note)(incident=incident.pk, body="Secret", by=cast.owner)
    output = await communicator.receive_output(timeout=5)
    assert output == {"type": "websocket.close", "code": CLOSE_FORBIDDEN}
    await communicator.wait()


async def test_a_deleted_account_stops_receiving_on_the_dashboard(cast: Any, incident: Any) -> None:
    communicator = await open_and_greet("/ws/dashboard/", cast.viewer)
    await database_sync_to_async(cast.viewer.delete)()
    await database_sync_to_async(services.incident_change_status)(incident=incident.pk, status="identified", by=cast.responder)
    output = await communicator.receive_output(timeout=5)
    assert output == {"type": "websocket.close", "code": CLOSE_FORBIDDEN}
    await communicator.wait()


async def test_the_stream_is_read_only_apart_from_ping(cast: Any, incident: Any) -> None:
    communicator = await open_and_greet(f"/ws/incidents/{incident.pk}/", cast.viewer)
    await communicator.send_json_to({"event": "incident.status_changed", "payload": {"status": "resolved"}})
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.send_json_to({"event": "ping"})
    assert await communicator.receive_json_from(timeout=5) == {"event": "pong", "payload": {}}
    await communicator.disconnect()
    await database_sync_to_async(incident.refresh_from_db)()
    assert incident.status == "investigating"


def test_only_json_scalars_travel_in_a_payload() -> None:
    event = DomainEvent(kind="incident.note_added", incident_id=7, data={"event_id": 3, "obj": object(), "flag": True})
    payload = payload_for(event)
    assert payload["data"] == {"event_id": 3, "flag": True}
    assert payload["reference"] == "INC-7"
