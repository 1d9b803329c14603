"""Notifications and their deliveries: create (idempotently), attempt, retry, sweep.

At least once: a delivery row is stored in the same transaction as what caused it,
enqueued after commit, claimed with a conditional UPDATE (pending → sending, with a
lease), and a sweeper puts back rows whose worker died mid-send. A failing endpoint
only delays its own row.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from incidents.models import (
    Channel,
    ChannelKind,
    DeliveryState,
    Incident,
    IncidentStatus,
    Notification,
    NotificationDelivery,
    NotificationRule,
)
from incidents.notify import channels
from portal.text import clean_text

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def backoff(attempts: int) -> timedelta:
    """Capped exponential backoff: 30 s, 1 min, 2 min, ... at most NOTIFY_BACKOFF_CAP_SECONDS."""
    base = _setting("NOTIFY_BACKOFF_BASE_SECONDS", 30)
    cap = _setting("NOTIFY_BACKOFF_CAP_SECONDS", 900)
    return timedelta(seconds=min(cap, base * 2 ** max(attempts - 1, 0)))


def notification_create(*, kind: str, subject: str, body: str = "", incident: Incident | None = None, event: str = "") -> Notification:
    details = {}
    if incident is not None:
        details = {"severity": incident.severity.name, "status": incident.status}
    return Notification.objects.create(
        kind=kind, incident=incident, event=event, details=details,
        subject=clean_text(subject, max_length=250) or "Notification", body=clean_text(body, max_length=20_000, multiline=True),
    )


def _delivery(notification: Notification, key: str, **fields: Any) -> NotificationDelivery:
    delivery, _ = NotificationDelivery.objects.get_or_create(
        idempotency_key=f"n{notification.pk}:{key}",
        defaults={"notification": notification, "incident_id": notification.incident_id, **fields},
    )
    return delivery


def deliveries_for_user(notification: Notification, user: Any, *, now: datetime) -> list[NotificationDelivery]:
    """A person's notification rules (email at once, Slack after 2 minutes, ...); with no
    rules, their account's email address at once. Delayed rules of a page are cancelled
    when the incident is acknowledged before they are due."""
    rules = list(NotificationRule.objects.filter(user=user).select_related("contact_method"))
    out: list[NotificationDelivery] = []
    if not rules:
        if user.email:
            out.append(_delivery(notification, f"u{user.pk}:email", user=user, kind=ChannelKind.EMAIL, target=user.email, next_attempt_at=now))
        return out
    for rule in rules:
        method = rule.contact_method
        out.append(_delivery(
            notification, f"u{user.pk}:c{method.pk}", user=user, kind=method.kind, target=method.target, secret=method.secret,
            next_attempt_at=now + timedelta(minutes=rule.delay_minutes),
            cancel_if_acknowledged=rule.delay_minutes > 0 and notification.kind == Notification.Kind.PAGE,
        ))
    return out


def deliveries_for_new_notification(notification: Notification, users: list[Any], *, now: datetime) -> list[NotificationDelivery]:
    """`deliveries_for_user` for several people at once, for a notification created in this
    transaction (so no delivery of it can exist yet): one query for the rules, one INSERT."""
    rules: dict[int, list[NotificationRule]] = {}
    for rule in NotificationRule.objects.filter(user__in=[u.pk for u in users]).select_related("contact_method"):
        rules.setdefault(rule.user_id, []).append(rule)
    rows: list[NotificationDelivery] = []
    page = notification.kind == Notification.Kind.PAGE
    for user in users:
        if user.pk not in rules:
            if user.email:
                rows.append(NotificationDelivery(
                    notification=notification, incident_id=notification.incident_id, user=user, kind=ChannelKind.EMAIL, target=user.email,
                    idempotency_key=f"n{notification.pk}:u{user.pk}:email", next_attempt_at=now))
            continue
        for rule in rules[user.pk]:
            method = rule.contact_method
            rows.append(NotificationDelivery(
                notification=notification, incident_id=notification.incident_id, user=user, kind=method.kind, target=method.target,
                secret=method.secret, idempotency_key=f"n{notification.pk}:u{user.pk}:c{method.pk}",
                next_attempt_at=now + timedelta(minutes=rule.delay_minutes), cancel_if_acknowledged=rule.delay_minutes > 0 and page))
    return NotificationDelivery.objects.bulk_create(rows) if rows else []


def deliveries_for_channels(notification: Notification, *, severity_id: int, now: datetime) -> list[NotificationDelivery]:
    out = []
    for channel in Channel.objects.filter(enabled=True, severities__id=severity_id).distinct():
        out.append(_delivery(notification, f"ch{channel.pk}", channel=channel, kind=channel.kind, target=channel.url,
                             secret=channel.secret, routing_key=channel.routing_key, next_attempt_at=now))
    return out


def enqueue(deliveries: Iterable[NotificationDelivery]) -> None:
    """After commit, hand each delivery to a worker (best effort: the sweeper catches what Redis missed)."""
    rows = [(d.pk, d.next_attempt_at) for d in deliveries if d.state == DeliveryState.PENDING]
    if rows:
        transaction.on_commit(partial(_send_tasks, rows))


def _send_tasks(rows: list[tuple[int, datetime]]) -> None:
    from incidents.notify.tasks import deliver

    now = timezone.now()
    for pk, due in rows:
        countdown = max(0.0, (due - now).total_seconds())
        if countdown > 3000:  # below the broker's visibility timeout; the sweeper sends it when due
            continue
        try:
            deliver.apply_async((pk,), countdown=countdown or None)
        except Exception:  # noqa: BLE001 - the broker being down must not lose the delivery: it is stored
            log.warning("could not enqueue delivery %s; the sweeper will send it", pk, exc_info=True)


def _claim(ids: list[int]) -> list[NotificationDelivery]:
    """pending → sending for the due rows among `ids`; the lease stamp tells ours apart."""
    now = timezone.now()
    stamp = now + LEASE + timedelta(microseconds=secrets.randbelow(1_000_000))
    NotificationDelivery.objects.filter(pk__in=ids, state=DeliveryState.PENDING, next_attempt_at__lte=now).update(
        state=DeliveryState.SENDING, attempts=F("attempts") + 1, lease_until=stamp
    )
    return list(NotificationDelivery.objects.select_related("notification__incident__severity", "subscriber")
                .filter(pk__in=ids, state=DeliveryState.SENDING, lease_until=stamp).order_by("pk"))


def delivery_attempt(delivery_id: int) -> str | None:
    """Claim, send, record. Returns the new state, or None when the row was not ours to send."""
    claimed = _claim([delivery_id])
    return _attempt(claimed[0]) if claimed else None


def deliveries_attempt_batch(delivery_ids: list[int]) -> dict[str, int]:
    """Send many (a status page fan-out) through one SMTP connection."""
    claimed = _claim(delivery_ids)
    outcome: Counter[str] = Counter()
    connection = None
    if any(d.kind == ChannelKind.EMAIL for d in claimed):
        connection = get_connection(fail_silently=False, timeout=_setting("NOTIFY_HTTP_TIMEOUT", 10.0))
        try:
            connection.open()
        except OSError:
            log.warning("could not open the mail connection; each message opens its own", exc_info=True)
            connection = None
    delivered: list[tuple[int, int]] = []
    try:
        for delivery in claimed:
            outcome[_attempt(delivery, mail_connection=connection, delivered=delivered)] += 1
    finally:
        if connection is not None:
            try:
                connection.close()
            except OSError:
                pass
        # successes recorded in one UPDATE per status code instead of one per row
        for code in {c for _, c in delivered}:
            NotificationDelivery.objects.filter(pk__in=[pk for pk, c in delivered if c == code], state=DeliveryState.SENDING).update(
                state=DeliveryState.DELIVERED, lease_until=None, last_error="", response_code=code, delivered_at=timezone.now())
    return dict(outcome)


def _attempt(delivery: NotificationDelivery, *, mail_connection: Any = None, delivered: list[tuple[int, int]] | None = None) -> str:
    incident = delivery.notification.incident
    if delivery.cancel_if_acknowledged and incident is not None and (
        incident.acknowledged_at is not None or incident.status == IncidentStatus.RESOLVED
    ):
        return _finish(delivery, DeliveryState.CANCELLED, error="Acknowledged before this rule was due.")
    try:
        code = channels.send(delivery, mail_connection=mail_connection)
    except channels.PermanentFailure as exc:
        return _finish(delivery, DeliveryState.FAILED, error=str(exc))
    except channels.TemporaryFailure as exc:
        if delivery.attempts >= _setting("NOTIFY_MAX_ATTEMPTS", 8):
            return _finish(delivery, DeliveryState.FAILED, error=str(exc))
        return _finish(delivery, DeliveryState.PENDING, error=str(exc), retry_at=timezone.now() + backoff(delivery.attempts))
    except Exception as exc:  # noqa: BLE001 - a bug in one channel must not leave the row stuck in `sending`
        log.exception("delivery %s failed", delivery.pk)
        return _finish(delivery, DeliveryState.PENDING, error=f"{type(exc).__name__}: {exc}",
                       retry_at=timezone.now() + backoff(delivery.attempts))
    if delivered is not None:
        delivered.append((delivery.pk, code))
        return DeliveryState.DELIVERED
    return _finish(delivery, DeliveryState.DELIVERED, code=code)


def _finish(delivery: NotificationDelivery, state: str, *, error: str = "", code: int | None = None,
            retry_at: datetime | None = None) -> str:
    fields: dict[str, Any] = {"state": state, "lease_until": None, "last_error": error[:2000]}
    if code is not None:
        fields["response_code"] = code
    if state == DeliveryState.DELIVERED:
        fields["delivered_at"] = timezone.now()
    if retry_at is not None:
        fields["next_attempt_at"] = retry_at
    NotificationDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.SENDING).update(**fields)
    if retry_at is not None:
        _send_tasks([(delivery.pk, retry_at)])
    return state


def deliveries_sweep(*, limit: int = 500) -> int:
    """Put back deliveries whose worker died mid-send (lease expired) and hand out every due one."""
    now = timezone.now()
    NotificationDelivery.objects.filter(state=DeliveryState.SENDING, lease_until__lt=now).update(
        state=DeliveryState.PENDING, lease_until=None, last_error="The worker stopped while sending; retried."
    )
    due = list(
        NotificationDelivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at").values_list("pk", "next_attempt_at")[:limit]
    )
    _send_tasks(due)
    return len(due)
