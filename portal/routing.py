"""Websocket routes. Each app contributes its own list."""

from __future__ import annotations

from typing import Any

from django.urls import path

from incidents.consumers import DashboardConsumer, IncidentConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/incidents/<int:incident_id>/", IncidentConsumer.as_asgi()),
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
]
