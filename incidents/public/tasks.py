"""Celery tasks of the public status page, on the `snapshots` queue."""

from __future__ import annotations

from celery import shared_task

from incidents.public import rebuild as rebuilding

PERIODIC_SECONDS = 60.0


@shared_task(
    name="incidents.public.rebuild_snapshot",
    queue="snapshots",
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


def _register_schedule() -> None:
    """A periodic rebuild: catches up after Redis or the broker was down when a
    change happened, and rolls the uptime bars and "today" over."""
    from portal.celery import app

    schedule = dict(app.conf.beat_schedule or {})
    schedule.setdefault(
        "public-status-snapshot",
        {"task": "incidents.public.rebuild_snapshot", "schedule": PERIODIC_SECONDS, "options": {"queue": "snapshots", "expires": 50}},
    )
    app.conf.beat_schedule = schedule


_register_schedule()
