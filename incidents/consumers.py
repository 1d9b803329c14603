"""Websockets for responder pages: one group per incident, and the dashboard.

A connection is authenticated (session, through AuthMiddlewareStack) and checked
against the organisation role before `accept()`. The check runs again before
every message is sent, against a fresh read of the user: an account made
inactive or demoted stops receiving at its next event, and is disconnected.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth import get_user_model

from incidents import sockets
from incidents.models import Incident
from portal.models import OrgRole, has_role
from portal.realtime import DASHBOARD_GROUP, incident_group

log = logging.getLogger(__name__)

# Close codes in the 4000-4999 application range; browsers do not reconnect on them
# (the htmx ws extension retries only on 1006/1011/1012/1013).
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


@database_sync_to_async
def _user_may(user_id: int | None, role: str) -> bool:
    if user_id is None:
        return False
    user = get_user_model().objects.select_related("membership").filter(pk=user_id).first()
    return user is not None and has_role(user, role)


@database_sync_to_async
def _incident_exists(incident_id: int) -> bool:
    return Incident.objects.filter(pk=incident_id).exists()


class ResponderConsumer(AsyncJsonWebsocketConsumer):
    """Base for responder audiences. Subclasses name their group and may check more."""

    required_role: str = OrgRole.VIEWER
    group: str = ""
    audience: str = ""  # for the open-socket count (incidents/sockets.py)
    counted: bool = False

    def group_name(self) -> str:
        raise NotImplementedError

    async def extra_check(self) -> int | None:
        """A close code to refuse the connection with, or None to go on."""
        return None

    def _user_id(self) -> int | None:
        user = self.scope.get("user")
        if user is None or not getattr(user, "is_authenticated", False):
            return None
        return user.pk

    async def connect(self) -> None:
        if not await _user_may(self._user_id(), self.required_role):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        code = await self.extra_check()
        if code is not None:
            await self.close(code=code)
            return
        self.group = self.group_name()
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        sockets.opened(self.audience)
        self.counted = True
        await self.send_json({"event": "hello", "payload": {"group": self.group}})

    async def disconnect(self, code: int) -> None:
        if self.counted:
            sockets.closed(self.audience)
            self.counted = False
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # Read-only stream: changes go through the HTTP views and their forms.
        if isinstance(content, dict) and content.get("event") == "ping":
            await self.send_json({"event": "pong", "payload": {}})

    async def portal_event(self, message: dict[str, Any]) -> None:
        if not await _user_may(self._user_id(), self.required_role):
            log.info("closing %s for user %s: no longer allowed", self.group, self._user_id())
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = ""
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.send_json({"event": message["event"], "payload": message["payload"]})


class IncidentConsumer(ResponderConsumer):
    """`ws/incidents/<id>/`: the war room of one incident."""

    audience = sockets.INCIDENT

    def group_name(self) -> str:
        return incident_group(self.scope["url_route"]["kwargs"]["incident_id"])

    async def extra_check(self) -> int | None:
        exists = await _incident_exists(self.scope["url_route"]["kwargs"]["incident_id"])
        return None if exists else CLOSE_NOT_FOUND


class DashboardConsumer(ResponderConsumer):
    """`ws/dashboard/`: open incidents and the service board."""

    audience = sockets.DASHBOARD

    def group_name(self) -> str:
        return DASHBOARD_GROUP
