"""One JSON error body for the whole API:

    {"error": {"code": "...", "message": "...", "fields": {...}, ...extra}}

DRF views get it from `exception_handler`. Everything else under /api/ (an
unknown URL, Django's own 400/403/404/405/500 answers, a plain view's error) gets
it from `JsonErrorsUnderApi`, which rewrites any error answer there that is not
already JSON. An unexpected exception is logged by Django (`django.request`) as
usual; the client sees a JSON 500.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from portal.errors import DomainError


def _flatten(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in _flatten(value).items():
                    # a nested serializer's own error belongs to the field itself
                    out[str(key) if sub == "non_field_errors" else f"{key}.{sub}"] = msgs
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for index, item in enumerate(value):
                    for sub, msgs in _flatten(item).items():
                        out[f"{key}.{index}.{sub}"] = msgs
            elif isinstance(value, list):
                out[str(key)] = [str(v) for v in value]
            else:
                out[str(key)] = [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(v) for v in detail]}
    return {"non_field_errors": [str(detail)]}


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    body.update(extra)
    return {"error": body}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.fields, **exc.extra), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        set_rollback()
        return Response(error_body("validation_failed", "The request is not valid.", fields), status=400)
    if isinstance(exc, (ProtectedError, RestrictedError)):
        set_rollback()
        return Response(in_use_body(exc), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]

    if isinstance(exc, exceptions.ValidationError):
        body = error_body("validation_failed", "The request is not valid.", _flatten(exc.detail))
    else:
        detail = exc.detail
        message = str(detail) if not isinstance(detail, (dict, list)) else "The request failed."
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        body = error_body(str(code), message)
    set_rollback()
    return Response(body, status=exc.status_code or status.HTTP_400_BAD_REQUEST, headers=headers)


def in_use_body(exc: ProtectedError | RestrictedError, limit: int = 10) -> dict[str, Any]:
    """A 409 naming what still refers to the row (a fallback: services check usage
    first and say it in their own words)."""
    objects = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
    used_by: dict[str, list[str]] = {}
    for obj in itertools.islice(objects, limit):
        used_by.setdefault(str(obj._meta.verbose_name_plural), []).append(str(obj))
    names = "; ".join(f"{kind}: {', '.join(items)}" for kind, items in used_by.items())
    return error_body("in_use", f"This cannot be deleted while other records refer to it ({names}).", used_by=used_by)


# Codes for the answers Django and plain views give outside DRF.
STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}
MESSAGES = {
    404: "Not found.",
    500: "The server failed to answer this request. The error has been logged.",
}
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "Cache-Control", "Vary")


class JsonErrorsUnderApi:
    """Every error answer under /api/ in the one JSON shape, whoever produced it.

    First in MIDDLEWARE, so that it also sees the answers of the other middleware
    and of Django's exception handling (handler404, handler500)."""

    prefix = "/api/"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or not request.path_info.startswith(self.prefix) or response.streaming:
            return response
        if isinstance(response, Response):
            return response  # DRF's, already shaped by exception_handler (in whatever format was negotiated)
        if response.get("Content-Type", "").split(";")[0].strip().endswith(("/json", "+json")):
            return response
        code = response.status_code
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        body = error_body(STATUS_CODES.get(code, "error"), MESSAGES.get(code, f"{phrase}."))
        replacement = JsonResponse(body, status=code)
        for name in KEPT_HEADERS:
            if name in response:
                replacement[name] = response[name]
        return replacement
