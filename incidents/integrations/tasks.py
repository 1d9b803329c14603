"""Celery tasks of alert ingestion: they take primary keys and are safe to run twice.

The pipeline enqueues them by name (`pipeline/receive.py`) and never imports this
module; IncidentsConfig.ready() registers them through `pipeline.connect()`."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from incidents.integrations.pipeline import process, receive, settle


@shared_task(
    bind=True,
    name=receive.PROCESS_DELIVERY,
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=300,  # well below the broker's visibility timeout
    retry_jitter=True,
    max_retries=settle.MAX_ATTEMPTS,
)
def process_delivery(self: Any, delivery_id: int) -> str:
    """Apply one stored delivery. A failure leaves it pending with its error; it is
    retried with backoff here, and by the sweeper should the retry itself be lost."""
    return process.delivery_process(delivery_id=delivery_id)


@shared_task(name="integrations.sweep_pending_deliveries")
def sweep_pending_deliveries() -> int:
    """From beat: queue again deliveries stored while Redis or every worker was down."""
    return len(receive.deliveries_sweep())
