from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from incidents.integrations.pagerduty import views as pagerduty_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/", include("portal.api_urls")),
    path("health/", include("health.urls")),
    path("status/", include("incidents.public.urls")),
    path("api/v2/", include("incidents.public.api_urls")),
    path("integrations/", include("incidents.integrations.urls")),
    # PagerDuty Events API v1 at PagerDuty's own path, so senders change only the host.
    path("generic/2010-04-15/create_event.json", pagerduty_views.create_event_v1, name="pagerduty-v1-create-event"),
    path("", include("incidents.urls")),
]
