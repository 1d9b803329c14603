"""Celery tasks of notifications: they take primary keys and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from incidents.notify import services


@shared_task(name="notify.deliver")
def deliver(delivery_id: int) -> str | None:
    """Send one stored delivery. A second run finds it no longer pending and does nothing;
    retries are scheduled by the service itself (capped backoff) and by the sweeper."""
    return services.delivery_attempt(delivery_id)


@shared_task(name="notify.sweep_deliveries")
def sweep_deliveries() -> int:
    """From beat: deliveries that are due, and those whose worker died mid-send."""
    return services.deliveries_sweep()
