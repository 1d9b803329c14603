"""Django views of the status page and /api/v2: thin wrappers around the snapshot.

In the web process these paths are answered from the snapshot before Django is
entered (`incidents.public.asgi.snapshot_first`, applied in `portal.asgi`); these
views answer the same for what falls through, and in tests.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.csrf import csrf_exempt

from incidents.public import rebuild
from incidents.public.data import public_incident_qs, with_public_fields
from incidents.public.http import respond

UNAVAILABLE = (
    "<!doctype html><meta charset=utf-8><title>Status temporarily unavailable</title>"
    "<p>The status page is starting up. Please retry in a few seconds.</p>"
)


def _to_django(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> HttpResponse:
    response = HttpResponse(body, status=status)
    for name, value in headers:
        key = name.decode()
        if key != "content-length":
            response[key] = value.decode()
    if status == 304 and "content-type" in response:
        del response["content-type"]
    return response


def _answer(request: HttpRequest) -> HttpResponse | None:
    answer = respond(request.path_info, request.method or "GET", request.headers.get("If-None-Match", ""))
    return _to_django(*answer) if answer is not None else None


@csrf_exempt
def serve(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    response = _answer(request)
    if response is not None:
        return response
    if rebuild.rebuild_if_missing() is None:
        return HttpResponse(UNAVAILABLE, status=503, headers={"Retry-After": "5", "Cache-Control": "no-store"})
    response = _answer(request)
    if response is None:
        raise Http404("No such page on the status page.")
    return response


@csrf_exempt
def incident(request: HttpRequest, pk: int) -> HttpResponse:
    response = serve_or_none(request)
    if response is not None:
        return response
    # Older than the snapshot's 90-day window: rendered from the database, which
    # is fine for pages nobody needs in a hurry. Public incidents only.
    try:
        item = public_incident_qs().filter(pk=pk).first()
    except DatabaseError:
        return HttpResponse(UNAVAILABLE, status=503, headers={"Retry-After": "30"})
    if item is None:
        raise Http404("No such incident.")
    with_public_fields(item)
    html = render_to_string("public/incident.html", {"incident": item, "site_name": settings.SITE_NAME})
    return HttpResponse(html, headers={"Cache-Control": "public, max-age=300"})


def serve_or_none(request: HttpRequest) -> HttpResponse | None:
    response = _answer(request)
    if response is None and rebuild.rebuild_if_missing() is not None:
        response = _answer(request)
    return response
