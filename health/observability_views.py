"""/health/detailed and /metrics."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from health import observability


@never_cache
def detailed(request: HttpRequest) -> JsonResponse:
    body, ok = observability.detailed()
    return JsonResponse(body, status=200 if ok else 503)


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(observability.metrics_body(), content_type=observability.CONTENT_TYPE)
