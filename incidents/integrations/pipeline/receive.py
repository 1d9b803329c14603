"""Stage 1, receive: authenticate the sender, limit, validate, store the raw body,
answer fast, and enqueue the delivery for the worker.

Answers: 2xx once the raw body is stored (processing happens in a task); 4xx only
for requests that will never succeed as sent (bad secret, malformed payload, over
512 KB), so that senders drop them; 429 over the integration's rate limit; 503
when the portal could not store the payload, so that senders retry.

The task is enqueued by name (`PROCESS_DELIVERY`): the task module imports the
pipeline, never the other way round.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from incidents.integrations.common import PayloadInvalid
from incidents.models import Delivery, DeliveryStatus, Integration
from incidents.models.alerts import hash_token
from portal import parsers as portal_parsers
from portal import redis_guard
from portal.api_errors import error_body

log = logging.getLogger(__name__)

MAX_PAYLOAD = 512 * 1024


class Refused(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        errors: list[str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []
        self.retry_after = retry_after


def read_body(request: HttpRequest) -> bytes:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    too_big = Refused(
        413,
        "payload_too_large",
        f"The payload is larger than the limit of {MAX_PAYLOAD // 1024} KB; it was not stored.",
    )
    if declared > MAX_PAYLOAD:
        raise too_big
    try:
        body = request.body
    except RequestDataTooBig:
        raise too_big from None
    if len(body) > MAX_PAYLOAD:
        raise too_big
    if not body:
        raise Refused(400, "empty_body", "The request has no body; a JSON payload is expected.")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "invalid_encoding", "The body must be UTF-8 encoded JSON.") from None
    return body


def presented_token(request: HttpRequest, url_token: str | None) -> str | None:
    """The token from the URL, `Authorization: Bearer`, or Basic (the password), as
    Alertmanager's `http_config` sends them."""
    if url_token:
        return url_token
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password or user or None
    return None


def find_integration(token: str | None, kinds: tuple[str, ...]) -> Integration:
    if not token or len(token) > 200:
        raise Refused(
            401,
            "not_authenticated",
            "A valid integration token is required (in the URL, as a Bearer token, or as the Basic password).",
        )
    try:
        integration = (
            Integration.objects.filter(token_hash=hash_token(token), kind__in=kinds).order_by().first()
        )
    except DatabaseError:
        log.exception("integration lookup failed")
        raise Refused(
            503, "unavailable", "The portal cannot accept alerts right now; retry later.", retry_after=5
        ) from None
    if integration is None:
        raise Refused(401, "not_authenticated", "Unknown integration token.")
    if not integration.enabled:
        raise Refused(403, "integration_disabled", "This integration is disabled in the portal.")
    return integration


def check_rate(integration: Integration) -> None:
    """A fixed one-minute window per integration, counted in Redis. If Redis is down
    the request is let through: the payload still lands in the database."""
    limit = integration.rate_limit_per_minute
    if not limit or not redis_guard.cache.allows():
        return
    window = int(time.time() // 60)
    key = f"alerts:rate:{integration.pk}:{window}"
    try:
        count = _count(key)
    except Exception:  # noqa: BLE001 - a limiter outage must not lose alerts
        redis_guard.cache.failed("alert rate limiter")
        return
    redis_guard.cache.succeeded()
    if count > limit:
        raise Refused(
            429,
            "rate_limited",
            f"More than {limit} requests this minute for this integration.",
            retry_after=60 - int(time.time()) % 60,
        )


def _count(key: str) -> int:
    """INCR and EXPIRE in one round trip on the cache's Redis, with the request
    path's short timeouts; any other cache backend goes through Django's cache API."""
    client = redis_guard.cache_client()
    if client is not None:
        pipe = client.pipeline(transaction=False)
        full_key = cache.make_and_validate_key(key)
        pipe.incr(full_key)
        pipe.expire(full_key, 70)
        return int(pipe.execute()[0])
    cache.add(key, 0, timeout=70)
    return int(cache.incr(key))


def respond_refused(exc: Refused) -> JsonResponse:
    body = error_body(exc.code, exc.message, {"payload": exc.errors} if exc.errors else None)
    response = JsonResponse(body, status=exc.status)
    if exc.retry_after:
        response["Retry-After"] = str(exc.retry_after)
    return response


def guarded(store: Callable[[], Any]) -> Any:
    try:
        return store()
    except DatabaseError:
        log.exception("storing a delivery failed")
        raise Refused(
            503, "unavailable", "The payload could not be stored; retry later.", retry_after=5
        ) from None


def headers_of_interest(meta: dict[str, Any]) -> dict[str, str]:
    """The request headers worth keeping beside a raw body (never Authorization)."""
    keep = {
        "CONTENT_TYPE": "content-type",
        "HTTP_USER_AGENT": "user-agent",
        "HTTP_X_WEBHOOK_ID": "x-webhook-id",
        "HTTP_X_WEBHOOK_SUBSCRIPTION": "x-webhook-subscription",
        "HTTP_X_PAGERDUTY_SIGNATURE": "x-pagerduty-signature",
        "REMOTE_ADDR": "remote-addr",
    }
    return {name: str(meta[key])[:500] for key, name in keep.items() if meta.get(key)}


# --- One receiver for JSON senders that authenticate with the integration's token ---


def load_json(body: bytes | str) -> Any:
    """The one JSON parse of every receiver and of the worker: depth-bounded, so a
    deeply nested body is a 400 with a reason rather than a RecursionError."""
    try:
        return portal_parsers.load_json(body)
    except portal_parsers.JsonRefused as exc:
        raise PayloadInvalid([str(exc)]) from None


def receive_json(
    request: HttpRequest, token: str | None, *, kind: str, validate: Callable[[Any], list[str]]
) -> HttpResponse:
    """Authenticate by token, validate with the kind's validator, store, answer 202."""
    try:
        body = read_body(request)
        integration = find_integration(presented_token(request, token), (kind,))
        check_rate(integration)
        try:
            skipped = validate(load_json(body))
        except PayloadInvalid as exc:
            raise Refused(400, "invalid_payload", "The payload is not valid.", errors=exc.errors) from None
        delivery = guarded(
            lambda: delivery_store(
                integration=integration, body=body.decode(), headers=headers_of_interest(request.META)
            )
        )
    except Refused as exc:
        return respond_refused(exc)
    answer: dict[str, object] = {"status": "accepted", "delivery": delivery.pk}
    if skipped:
        # The good alerts are kept; the bad ones are named here and on the delivery.
        answer["skipped"] = skipped
    return JsonResponse(answer, status=202)


# --- Store and enqueue ------------------------------------------------------------------

PROCESS_DELIVERY = "integrations.process_delivery"  # incidents/integrations/tasks.py
STALE_PENDING_AFTER = timedelta(minutes=2)


def enqueue(delivery_id: int) -> None:
    # Best effort within milliseconds (never a broker wait on the webhook's answer):
    # the row is stored, and the sweeper processes it once Redis is back.
    if not redis_guard.publish(current_app.signature(PROCESS_DELIVERY), args=(delivery_id,), queue="alerts"):
        log.info("delivery %s not queued now; the sweeper will pick it up", delivery_id)


def delivery_store(
    *,
    integration: Integration,
    body: str,
    headers: dict[str, str],
    external_id: str = "",
    assigned_key: str = "",
    is_test: bool = False,
) -> Delivery:
    """Keep the raw payload, then (after commit) queue it for processing.

    A delivery whose sender id was already received is kept, marked duplicate, and
    not processed again (PagerDuty retries a webhook with the same X-Webhook-Id).
    Without a sender id the row is one INSERT in autocommit: the commit that makes
    the 2xx truthful, and nothing more on the webhook's hot path."""
    if not external_id:
        delivery = Delivery.objects.create(
            integration=integration,
            body=body,
            headers=headers,
            assigned_key=assigned_key,
            status=DeliveryStatus.PENDING,
            is_test=is_test,
        )
        transaction.on_commit(partial(enqueue, delivery.pk))
        return delivery
    with transaction.atomic():
        duplicate = Delivery.objects.filter(integration=integration, external_id=external_id).exists()
        delivery = Delivery.objects.create(
            integration=integration,
            body=body,
            headers=headers,
            external_id=external_id[:128],
            assigned_key=assigned_key,
            status=DeliveryStatus.DUPLICATE if duplicate else DeliveryStatus.PENDING,
        )
        if not duplicate:
            transaction.on_commit(partial(enqueue, delivery.pk))
    return delivery


def new_dedup_key() -> str:
    return uuid.uuid4().hex


def deliveries_sweep(*, older_than: timedelta = STALE_PENDING_AFTER, limit: int = 500) -> list[int]:
    """Queue again the deliveries still pending after `older_than` (Redis or every
    worker was down when they arrived); processing them twice is harmless."""
    cutoff = timezone.now() - older_than
    ids = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        enqueue(pk)
    return ids
