from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView


@require_GET
@cache_control(public=True, max_age=86400)
def favicon(request, *args, **kwargs):  # type: ignore[no-untyped-def]
    """`/favicon.ico`, which browsers ask for whatever the page links: the SVG icon."""
    return serve(request, "favicon.svg", document_root=settings.BASE_DIR / "static")


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
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
    path("", include("incidents.urls")),
]
