"""Receiver for the generic JSON format."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from incidents.integrations.generic import parser
from incidents.integrations.pipeline.receive import receive_json
from incidents.models import IntegrationKind


@csrf_exempt
@require_POST
def generic_webhook(request: HttpRequest, token: str | None = None) -> HttpResponse:
    return receive_json(request, token, kind=IntegrationKind.GENERIC_JSON, validate=parser.validate)
