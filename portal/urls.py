from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView

from health import observability_views
from incidents.integrations.pipeline import registry as integration_registry
from portal import people_views
from portal.api_docs import api_docs


@require_GET
@cache_control(public=True, max_age=86400)
def favicon(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
    """`/favicon.ico`, which browsers ask for whatever the page links: the SVG icon."""
    return serve(request, "favicon.svg", document_root=str(settings.BASE_DIR / "static"))


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/invitation/", include(people_views.invitation_urlpatterns)),
    path("accounts/", include("django.contrib.auth.urls")),
    path("people/", include(people_views.urlpatterns)),
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
    # Receivers at their senders' own paths (PagerDuty Events v1), so senders change only the host.
    *integration_registry.site_urlpatterns(),
    path("", include("incidents.urls")),
]
