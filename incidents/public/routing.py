from __future__ import annotations

from django.urls import path

from incidents.public.consumer import PublicStatusConsumer

websocket_urlpatterns = [
    path("ws/public/", PublicStatusConsumer.as_asgi()),
]
