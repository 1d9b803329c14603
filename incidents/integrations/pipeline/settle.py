"""Stage 5, settle: the delivery's own row says what became of it.

A delivery is claimed as processed in the transaction that applies it (a second
worker blocks on the row, then finds it no longer pending), and left pending with
its error when some alerts failed, so that the task and the sweeper try it again;
after MAX_ATTEMPTS it is failed. Alerts skipped as invalid are named in its error.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from incidents.models import Delivery, DeliveryStatus

MAX_ATTEMPTS = 8


class AlertsFailed(Exception):
    """Some alerts of a delivery could not be applied; the others were. Raised after
    commit, so that the task retries the delivery (replaying the applied ones
    changes nothing)."""


def claim(delivery_id: int) -> bool:
    """Mark a pending delivery processed, in the caller's transaction; False when it is not pending."""
    return bool(
        Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.PROCESSED, processed_at=timezone.now(), attempts=F("attempts") + 1, error=""
        )
    )


def is_replay(delivery: Delivery) -> bool:
    """Another delivery with the same sender id was processed: mark this one duplicate."""
    if (
        not delivery.external_id
        or not Delivery.objects.filter(
            integration=delivery.integration_id,
            external_id=delivery.external_id,
            status=DeliveryStatus.PROCESSED,
        )
        .exclude(pk=delivery.pk)
        .exists()
    ):
        return False
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.DUPLICATE)
    return True


def record_outcome(delivery: Delivery, *, failed: list[str], skipped: list[str]) -> None:
    """After the groups were applied: the applied alerts stay applied; a delivery with
    failed alerts is tried again for the rest, up to MAX_ATTEMPTS."""
    errors = "; ".join((["Skipped: " + " ".join(skipped)] if skipped else []) + failed)
    if failed:
        status = DeliveryStatus.FAILED if delivery.attempts >= MAX_ATTEMPTS else DeliveryStatus.PENDING
        Delivery.objects.filter(pk=delivery.pk).update(status=status, error=errors[:2000])
    elif skipped:
        Delivery.objects.filter(pk=delivery.pk).update(error=errors[:2000])


def fail_invalid(delivery_id: int, error: str) -> None:
    """A payload that will never parse (stored by other means than the receivers) fails at once."""
    Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, error=error[:2000], attempts=F("attempts") + 1
    )


def record_failure(delivery_id: int, exc: Exception) -> int:
    """The whole delivery failed (its transaction rolled back): count the attempt,
    keep the error, fail it at the cap. Returns the attempts so far."""
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
            attempts=F("attempts") + 1, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        row = Delivery.objects.filter(pk=delivery_id).values("attempts", "status").first()
        if row is None:
            return MAX_ATTEMPTS
        if row["attempts"] >= MAX_ATTEMPTS and row["status"] == DeliveryStatus.PENDING:
            Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.FAILED
            )
        return int(row["attempts"])
