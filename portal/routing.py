"""Websocket routes. Each app contributes its own list."""

from __future__ import annotations

from typing import Any

from django.urls import path

from incidents.consumers import DashboardConsumer, IncidentConsumer
from incidents.public.routing import websocket_urlpatterns as public_websocket_urlpatterns
from runbooks.consumers import RunConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/incidents/<int:incident_id>/", IncidentConsumer.as_asgi()),
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
    path("ws/runbooks/runs/<int:run_id>/", RunConsumer.as_asgi()),
    *public_websocket_urlpatterns,
]
