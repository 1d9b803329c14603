"""/metrics counts open websockets by audience, through the real ASGI application."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from prometheus_client.parser import text_string_to_metric_families

from health import observability
from incidents.tests.test_consumers import open_and_greet, open_socket
from portal.asgi import application
from portal.tests.factories import declare

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("seeded_transactional_db")]


async def open_sockets() -> dict[str, float]:
    body = (await database_sync_to_async(observability.metrics_body)()).decode()
    return {
        sample.labels["audience"]: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "portal_websocket_connections"
    }


async def test_open_websockets_are_counted_by_audience_until_they_close(cast: Any) -> None:
    incident = await database_sync_to_async(declare)(by=cast.responder, title="Checkout", visibility="public", impacts={cast.service: "major_outage"})
    assert await open_sockets() == {"dashboard": 0, "incident": 0, "public": 0}
    dashboards = [await open_and_greet("/ws/dashboard/", cast.viewer) for _ in range(2)]
    war_room = await open_and_greet(f"/ws/incidents/{incident.pk}/", cast.viewer)
    public = WebsocketCommunicator(application, "/ws/public/", headers=[(b"origin", b"http://testserver")])
    assert (await public.connect(timeout=5))[0]
    refused, connected, _ = await open_socket("/ws/dashboard/")  # anonymous: refused before accept
    assert not connected
    try:
        assert await open_sockets() == {"dashboard": 2, "incident": 1, "public": 1}
    finally:
        for socket in [*dashboards, war_room, public, refused]:
            await socket.disconnect()
    assert await open_sockets() == {"dashboard": 0, "incident": 0, "public": 0}
