from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from health import observability_views
from incidents.integrations.pagerduty import views as pagerduty_views
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
    # PagerDuty Events API v1 at PagerDuty's own path, so senders change only the host.
    path("generic/2010-04-15/create_event.json", pagerduty_views.create_event_v1, name="pagerduty-v1-create-event"),
    path("", include("incidents.urls")),
]
