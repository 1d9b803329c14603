"""PagerDuty receivers: Events API v1 and v2-compatible endpoints, and v3 webhooks."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from incidents.integrations.common import PayloadInvalid
from incidents.integrations.pagerduty import events_v1, events_v2, webhooks_v3
from incidents.integrations.pipeline import receive as receiving
from incidents.models import IntegrationKind
from portal.text import clean_text


def _pd_invalid(errors: list[str], status: int = 400) -> JsonResponse:
    return JsonResponse({"status": "invalid event", "message": "Event object is invalid", "errors": errors}, status=status)


@csrf_exempt
@require_POST
def enqueue(request: HttpRequest) -> HttpResponse:
    """`POST /integrations/pagerduty/v2/enqueue`: the routing key is the integration's token."""
    try:
        body = receiving.read_body(request)
    except receiving.Refused as exc:
        return JsonResponse({"status": "invalid event", "message": exc.message, "errors": [exc.message]}, status=exc.status)
    try:
        event = receiving.load_json(body)
        events_v2.validate(event)
    except PayloadInvalid as exc:
        return _pd_invalid(exc.errors)
    try:
        integration = receiving.find_integration(event["routing_key"], (IntegrationKind.PAGERDUTY_EVENTS_V2,))
        receiving.check_rate(integration)
    except receiving.Refused as exc:
        if exc.status == 429:
            response = JsonResponse({"status": "throttle event", "message": "Requests for this service are arriving too quickly.  Please retry later."}, status=429)
            response["Retry-After"] = str(exc.retry_after or 60)
            return response
        if exc.status == 503:
            return JsonResponse({"status": "error", "message": exc.message}, status=503)
        return _pd_invalid(["Invalid routing key" if exc.status == 401 else exc.message])
    dedup_key = clean_text(event.get("dedup_key"), max_length=255)  # the key the portal will use
    assigned = "" if dedup_key else receiving.new_dedup_key()
    try:
        receiving.guarded(
            lambda: receiving.delivery_store(
                integration=integration, body=body.decode(), headers=receiving.headers_of_interest(request.META), assigned_key=assigned
            )
        )
    except receiving.Refused as exc:
        return JsonResponse({"status": "error", "message": exc.message}, status=exc.status)
    return JsonResponse({"status": "success", "message": "Event processed", "dedup_key": dedup_key or assigned}, status=202)


@csrf_exempt
@require_POST
def create_event_v1(request: HttpRequest) -> HttpResponse:
    """`POST /generic/2010-04-15/create_event.json`, PagerDuty's v1 path and answers:
    200 with the incident key once stored, 400 "invalid event" (senders drop it),
    403 "throttle event" over the rate limit (v1 senders, Alertmanager among them,
    retry a 403), 5xx when it could not be stored."""
    try:
        body = receiving.read_body(request)
    except receiving.Refused as exc:
        return JsonResponse({"status": "invalid event", "message": exc.message, "errors": [exc.message]}, status=exc.status)
    try:
        event = receiving.load_json(body)
        events_v1.validate(event)
    except PayloadInvalid as exc:
        return _pd_invalid(exc.errors)
    try:
        integration = receiving.find_integration(event["service_key"], (IntegrationKind.PAGERDUTY_EVENTS_V2,))
        receiving.check_rate(integration)
    except receiving.Refused as exc:
        if exc.status == 429:
            response = JsonResponse({"status": "throttle event", "message": "Requests for this service are arriving too quickly.  Please retry later."}, status=403)
            response["Retry-After"] = str(exc.retry_after or 60)
            return response
        if exc.status == 503:
            return JsonResponse({"status": "error", "message": exc.message}, status=503)
        return _pd_invalid(["Service key is invalid" if exc.status == 401 else exc.message])
    incident_key = clean_text(event.get("incident_key"), max_length=255)
    assigned = "" if incident_key else receiving.new_dedup_key()
    try:
        receiving.guarded(
            lambda: receiving.delivery_store(
                integration=integration, body=body.decode(), headers=receiving.headers_of_interest(request.META), assigned_key=assigned
            )
        )
    except receiving.Refused as exc:
        return JsonResponse({"status": "error", "message": exc.message}, status=exc.status)
    return JsonResponse({"status": "success", "message": "Event processed", "incident_key": incident_key or assigned}, status=200)


@csrf_exempt
@require_POST
def webhook_v3(request: HttpRequest, token: str) -> HttpResponse:
    """A v3 webhook subscription's delivery URL: `/integrations/pagerduty/v3/<token>/`."""
    try:
        body = receiving.read_body(request)
        integration = receiving.find_integration(token, (IntegrationKind.PAGERDUTY_WEBHOOK_V3,))
        signature = request.META.get("HTTP_X_PAGERDUTY_SIGNATURE")
        if not signature:
            raise receiving.Refused(401, "signature_missing", "Unsigned delivery: X-PagerDuty-Signature is required.")
        if not webhooks_v3.signature_valid(body, signature, [integration.signing_secret]):
            raise receiving.Refused(401, "signature_invalid", "No v1 signature in X-PagerDuty-Signature matches this subscription's secret.")
        receiving.check_rate(integration)
        try:
            payload = receiving.load_json(body)
            webhooks_v3.validate(payload)
        except PayloadInvalid as exc:
            raise receiving.Refused(400, "invalid_payload", "The payload is not valid.", errors=exc.errors) from None
        webhook_id = clean_text(request.META.get("HTTP_X_WEBHOOK_ID") or payload["event"]["id"], max_length=128)
        receiving.guarded(
            lambda: receiving.delivery_store(
                integration=integration, body=body.decode(), headers=receiving.headers_of_interest(request.META), external_id=webhook_id
            )
        )
    except receiving.Refused as exc:
        return receiving.respond_refused(exc)
    return JsonResponse({"status": "accepted"}, status=202)
