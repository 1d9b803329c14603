"""Receiver for Alertmanager's `webhook_configs` (payload version 4)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from incidents.integrations import parsing, receiving, services
from incidents.integrations.common import PayloadInvalid
from incidents.models import IntegrationKind


def receive_json(request: HttpRequest, token: str | None, kind: str) -> HttpResponse:
    try:
        body = receiving.read_body(request)
        integration = receiving.find_integration(receiving.presented_token(request, token), (kind,))
        receiving.check_rate(integration)
        try:
            skipped = parsing.validate(kind, parsing.load_json(body))
        except PayloadInvalid as exc:
            raise receiving.Refused(400, "invalid_payload", "The payload is not valid.", errors=exc.errors) from None
        delivery = receiving.guarded(
            lambda: services.delivery_store(
                integration=integration, body=body.decode(), headers=receiving.headers_of_interest(request.META)
            )
        )
    except receiving.Refused as exc:
        return receiving.respond_refused(exc)
    answer: dict[str, object] = {"status": "accepted", "delivery": delivery.pk}
    if skipped:
        # The good alerts are kept; the bad ones are named here and on the delivery.
        answer["skipped"] = skipped
    return JsonResponse(answer, status=202)


@csrf_exempt
@require_POST
def alertmanager_webhook(request: HttpRequest, token: str | None = None) -> HttpResponse:
    return receive_json(request, token, IntegrationKind.ALERTMANAGER)
