"""Celery tasks of the public status page, routed to the `snapshots` queue (settings.CELERY_TASK_ROUTES)."""

from __future__ import annotations

import logging

from celery import shared_task

from incidents.public import rebuild as rebuilding

log = logging.getLogger(__name__)


@shared_task(
    name=rebuilding.REBUILD_TASK,
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
    try:
        return rebuilding.rebuild()
    except Exception:
        # Retried with backoff; the page keeps serving the last snapshot, and
        # its age shows on the page and in /health/ready.
        log.warning("status snapshot rebuild failed", exc_info=True)
        raise
