from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("incidents.api.urls")),
    path("", include("incidents.integrations.api")),
    path("", include("portal.api")),
    path("", include("portal.config.api")),
]
