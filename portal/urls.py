from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from health import observability_views
from portal.api_docs import api_docs

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("lockouts/", include("portal.lockouts.views")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/v1/", include("portal.api_urls")),
    path("health/", include("health.urls")),
    path("status/subscribe/", include("incidents.notify.public_urls")),
    path("metrics", observability_views.metrics, name="metrics"),
    path("status/", include("incidents.public.urls")),
    path("api/v2/", include("incidents.public.api_urls")),
    path("integrations/", include("incidents.integrations.urls")),
    path("oncall/", include("incidents.oncall.urls")),
    path("runbooks/", include("runbooks.urls")),
    path("", include("incidents.urls")),
]
