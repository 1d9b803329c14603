from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("incidents.api.urls")),
    path("", include("incidents.integrations.api")),
    path("", include("portal.api")),
    path("lockouts/", include("portal.lockouts.api")),
    path("", include("incidents.oncall.api")),
    path("", include("runbooks.api.urls")),
    path("", include("health.api_urls")),
    path("", include("portal.config.api")),
]
