"""Status page subscribers: subscribe (email double opt-in, or webhook), confirm,
one-click unsubscribe, and the fan-out of public changes.

Only public content reaches a subscriber (see `announce`). Links point at the public
status page, never at the war room.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from incidents import events
from incidents.models import (
    ChannelKind,
    Notification,
    NotificationDelivery,
    Service,
    StatusSubscriber,
    Visibility,
)
from incidents.notify import announce, netguard
from incidents.notify import services as notify
from portal.errors import ValidationFailed
from portal.text import clean_text

log = logging.getLogger(__name__)


def confirm_url(subscriber: StatusSubscriber) -> str:
    return settings.PUBLIC_URL + reverse("subscriber-confirm", args=[subscriber.token])


def unsubscribe_url(subscriber: StatusSubscriber) -> str:
    return settings.PUBLIC_URL + reverse("subscriber-unsubscribe", args=[subscriber.token])


def public_incident_url(incident_id: int) -> str:
    return settings.PUBLIC_URL + reverse("public:incident", args=[incident_id])


@transaction.atomic
def subscriber_create(*, kind: str, address: str, components: Iterable[Service] = ()) -> StatusSubscriber:
    """Subscribe, or subscribe again. The answer is the same whether or not the address was
    already subscribed, so the form cannot be used to find out who follows the page."""
    address = clean_text(address, max_length=500)
    if kind == StatusSubscriber.Kind.EMAIL:
        try:
            validate_email(address)
        except Exception as exc:  # noqa: BLE001 - reported in our shape
            raise ValidationFailed("Enter a valid email address.", fields={"address": ["Enter a valid email address."]}) from exc
        address = address.lower()
    elif kind == StatusSubscriber.Kind.WEBHOOK:
        try:
            netguard.check_url(address)
        except netguard.RefusedAddress as exc:
            raise ValidationFailed(str(exc), fields={"address": [str(exc)]}) from exc
    else:
        raise ValidationFailed("Choose email or webhook.", fields={"kind": ["Choose email or webhook."]})
    chosen = [s for s in components if s.visibility == Visibility.PUBLIC]
    subscriber = StatusSubscriber.objects.select_for_update().filter(kind=kind, address=address).first()
    if subscriber is None:
        try:
            with transaction.atomic():
                subscriber = StatusSubscriber.objects.create(kind=kind, address=address, token=secrets.token_urlsafe(32))
        except IntegrityError:
            subscriber = StatusSubscriber.objects.select_for_update().get(kind=kind, address=address)
    subscriber.components.set(chosen)
    if kind == StatusSubscriber.Kind.WEBHOOK:
        # no inbox to confirm from: the receiver gets events at once and may unsubscribe with the link in each
        StatusSubscriber.objects.filter(pk=subscriber.pk).update(confirmed_at=timezone.now(), unsubscribed_at=None)
    elif not subscriber.is_active:
        StatusSubscriber.objects.filter(pk=subscriber.pk).update(unsubscribed_at=None, confirmed_at=None)
        n = notify.notification_create(kind=Notification.Kind.SUBSCRIPTION, event="confirm",
                                       subject=f"Confirm your subscription to {settings.SITE_NAME} status",
                                       body="Someone (we hope you) asked for email about this status page. Confirm to start.")
        delivery, _ = NotificationDelivery.objects.get_or_create(
            idempotency_key=f"n{n.pk}:s{subscriber.pk}",
            defaults={"notification": n, "subscriber": subscriber, "kind": ChannelKind.EMAIL, "target": address})
        notify.enqueue([delivery])
    subscriber.refresh_from_db()
    return subscriber


def subscriber_confirm(*, token: str) -> StatusSubscriber | None:
    StatusSubscriber.objects.filter(token=token, confirmed_at__isnull=True).update(confirmed_at=timezone.now(), unsubscribed_at=None)
    return StatusSubscriber.objects.filter(token=token).first()


def subscriber_unsubscribe(*, token: str) -> StatusSubscriber | None:
    StatusSubscriber.objects.filter(token=token, unsubscribed_at__isnull=True).update(unsubscribed_at=timezone.now())
    return StatusSubscriber.objects.filter(token=token).first()


# --- fan-out of public changes (what is said: incidents.notify.announce) -------------------


def fan_out(notification_id: int, *, batch: int = 2000) -> int:
    """One delivery per active subscriber who follows an affected component (or all).
    Safe twice: the idempotency key of each delivery is unique."""
    n = Notification.objects.filter(pk=notification_id, kind=Notification.Kind.PUBLIC).first()
    if n is None:
        return 0
    service_ids = n.details.get("services") or []
    subscribers = StatusSubscriber.objects.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True)
    if service_ids:
        chosen = StatusSubscriber.components.through.objects.filter(statussubscriber_id=OuterRef("pk"))
        subscribers = subscribers.annotate(any_chosen=Exists(chosen)).filter(
            Q(any_chosen=False) | Q(components__in=service_ids)).distinct()
    now = timezone.now()
    created = 0
    rows = subscribers.values_list("pk", "kind", "address").order_by("pk")
    chunk: list[NotificationDelivery] = []
    for pk, kind, address in rows.iterator(chunk_size=batch):
        chunk.append(NotificationDelivery(
            notification=n, incident_id=n.incident_id, subscriber_id=pk, kind=kind, target=address,
            idempotency_key=f"n{n.pk}:s{pk}", next_attempt_at=now))
        if len(chunk) >= batch:
            created += _insert(chunk)
            chunk = []
    created += _insert(chunk)
    pending = list(NotificationDelivery.objects.filter(notification=n, state="pending").order_by("pk").values_list("pk", flat=True))
    send_batches(pending)
    return created


FAN_OUT_BATCH = 100


def send_batches(ids: list[int]) -> None:
    from incidents.notify.tasks import deliver_batch

    for start in range(0, len(ids), FAN_OUT_BATCH):
        try:
            deliver_batch.delay(ids[start:start + FAN_OUT_BATCH])
        except Exception:  # noqa: BLE001 - stored: the delivery sweeper sends them
            log.warning("could not enqueue a batch of deliveries; the sweeper will send them", exc_info=True)
            return


def _insert(rows: list[NotificationDelivery]) -> int:
    if not rows:
        return 0
    NotificationDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


def fan_out_sweep() -> int:
    """Public notifications of the last day whose fan-out was lost (broker down)."""
    since = timezone.now() - timedelta(days=1)
    lost = Notification.objects.filter(kind=Notification.Kind.PUBLIC, created_at__gte=since, created_at__lte=timezone.now() - timedelta(seconds=30)).exclude(
        Exists(NotificationDelivery.objects.filter(notification=OuterRef("pk")))).values_list("pk", flat=True)
    return sum(fan_out(pk) for pk in lost)


def message_for(delivery: NotificationDelivery) -> dict[str, Any]:
    """What a subscriber's message says and links to: public content only."""
    n = delivery.notification
    link = public_incident_url(n.incident_id) if n.incident_id else settings.PUBLIC_URL + reverse("public:status")
    subscriber = delivery.subscriber
    return {
        "link": link,
        "unsubscribe": unsubscribe_url(subscriber) if subscriber else None,
        "confirm": confirm_url(subscriber) if subscriber and n.kind == Notification.Kind.SUBSCRIPTION else None,
        "incident": {"id": n.incident_id, "url": link} if n.incident_id else None,
    }



def connect() -> None:
    """Subscribe the status page subscribers to domain events; called from IncidentsConfig.ready(),
    safe to call again (a subscriber is registered once)."""
    events.subscribe(announce.on_event)
