"""Celery tasks of notifications: they take primary keys and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from incidents.notify import services


@shared_task(name="notify.deliver")
def deliver(delivery_id: int) -> str | None:
    """Send one stored delivery. A second run finds it no longer pending and does nothing;
    retries are scheduled by the service itself (capped backoff) and by the sweeper."""
    return services.delivery_attempt(delivery_id)


@shared_task(name="notify.deliver_batch")
def deliver_batch(delivery_ids: list[int]) -> dict[str, int]:
    """Send many stored deliveries (a status page fan-out) over one mail connection; safe twice."""
    return services.deliveries_attempt_batch(delivery_ids)


@shared_task(name="notify.fan_out")
def fan_out(notification_id: int) -> int:
    """One delivery per status page subscriber for a public change; safe to run twice."""
    from incidents.notify import subscribers

    return subscribers.fan_out(notification_id)


@shared_task(name="notify.sweep_deliveries")
def sweep_deliveries() -> int:
    """From beat: deliveries that are due, those whose worker died mid-send, lost fan-outs."""
    from incidents.notify import subscribers

    subscribers.fan_out_sweep()
    return services.deliveries_sweep()


@shared_task(name="notify.maintenance_notices")
def maintenance_notices() -> int:
    """From beat: announce public maintenance whose notice period began; once per window."""
    from incidents.notify import announce

    return announce.maintenance_notices_sweep()
