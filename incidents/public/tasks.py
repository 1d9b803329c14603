"""Celery tasks of the public status page, routed to the `snapshots` queue (settings.CELERY_TASK_ROUTES)."""

from __future__ import annotations

from celery import shared_task

from incidents.public import rebuild as rebuilding


@shared_task(
    name="incidents.public.rebuild_snapshot",
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
    expires=120,
)
def rebuild_public_snapshot() -> int | None:
    # Clear the coalescing flag first: a change committed from here on enqueues
    # a new rebuild instead of riding on this one, which may have read before it.
    rebuilding.clear_queued()
    return rebuilding.rebuild()
