"""Celery tasks of the probe engine: they take primary keys and are safe to run twice.

beat → `schedule_due` (every second) claims due probes and sends one `run_batch` per
location batch to the queue `probes.<location>`; the worker that takes it runs the
whole batch concurrently in one event loop, each probe at its due time, and hands
the results to its writer thread, which writes them in batches while the next
batch runs.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from health import engine, rollups, services
from health.effects import SETTLED_STATES
from health.models import Heartbeat, Location, Policy, Probe

log = logging.getLogger(__name__)


def claim_due(*, now: datetime | None = None, limit: int = 20_000) -> dict[str, list[tuple[int, datetime, int]]]:
    """Claim the due probes and move their next run on; (probe, due time, interval) per location.

    Claiming is a row-locked read and an update in one transaction (SKIP LOCKED on
    PostgreSQL), so two beats, or a slow tick overlapping the next, never claim a
    probe twice for the same time."""
    now = now or timezone.now()
    # One tick ahead: the batch reaches the worker before its probes are due, and the
    # engine starts each at its time, so queueing does not show as lag.
    horizon = now + timedelta(seconds=settings.HEALTH_LOOKAHEAD_SECONDS)
    with transaction.atomic():
        rows = Probe.objects.filter(enabled=True, next_run_at__lte=horizon).order_by("next_run_at")
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        claimed = list(rows.only("pk", "next_run_at", "interval_seconds")[:limit])
        if not claimed:
            return {}
        # One UPDATE per interval (and one for the probes far behind), not a CASE per row.
        on_time: dict[int, list[int]] = defaultdict(list)
        behind: dict[int, list[int]] = defaultdict(list)
        for probe in claimed:
            probe.due_at = probe.next_run_at  # type: ignore[attr-defined]
            following = probe.next_run_at + timedelta(seconds=probe.interval_seconds)
            # Far behind (the scheduler was down): run once now, not once per missed interval.
            (on_time if following > horizon else behind)[probe.interval_seconds].append(probe.pk)
        for interval, ids in on_time.items():
            Probe.objects.filter(pk__in=ids).update(next_run_at=F("next_run_at") + timedelta(seconds=interval))
        for interval, ids in behind.items():
            Probe.objects.filter(pk__in=ids).update(next_run_at=now + timedelta(seconds=interval))
        by_location: dict[str, list[tuple[int, datetime, int]]] = defaultdict(list)
        by_pk = {p.pk: p for p in claimed}
        for probe_id, name in Probe.locations.through.objects.filter(probe_id__in=by_pk).values_list("probe_id", "location__name"):
            due = by_pk[probe_id]
            by_location[name].append((probe_id, due.due_at, due.interval_seconds))  # type: ignore[attr-defined]
    return dict(by_location)


def _send(location: str, items: list[list[Any]], expires: int) -> None:
    try:
        run_batch.apply_async(args=(location, items), queue=f"probes.{location}", expires=expires, retry=False)
    except Exception:  # noqa: BLE001 - the next tick schedules these probes again
        log.warning("could not queue a batch for %s", location, exc_info=True)


def schedule(*, now: datetime | None = None) -> int:
    due = claim_due(now=now)
    sent = 0
    size = settings.HEALTH_BATCH_SIZE
    for location, items in sorted(due.items()):
        for start in range(0, len(items), size):
            chunk = items[start : start + size]
            expires = max(30, min(interval for _pk, _due, interval in chunk))
            payload = [[pk, when.isoformat()] for pk, when, _interval in chunk]
            transaction.on_commit(partial(_send, location, payload, expires))
            sent += len(chunk)
    return sent


def _run(location: Location, items: list[tuple[int, datetime]], *, wait_until_due: bool) -> list[engine.Run]:
    wanted = dict(items)
    # Only what a spec needs, unordered (the default ordering joins the service to sort
    # by its name): building whole Probe rows cost as much as running the probes.
    probes = list(Probe.objects.filter(pk__in=wanted, enabled=True).order_by().only(*services.SPEC_FIELDS))
    heartbeats = {h.probe_id: h for h in Heartbeat.objects.filter(probe_id__in=[p.pk for p in probes if p.kind == "heartbeat"])}
    specs = [services.spec_for(p, wanted[p.pk], heartbeats.get(p.pk)) for p in probes]
    runs, problem = engine.run_batch(
        specs, concurrency=settings.HEALTH_CONCURRENCY, self_check_target=location.self_check, wait_until_due=wait_until_due
    )
    Location.objects.filter(pk=location.pk).update(last_batch_at=timezone.now(), last_self_check_ok=not problem)
    return runs


def run_locally(location: Location, items: list[tuple[int, datetime]], *, wait_until_due: bool = False) -> dict[str, int]:
    """Run the given probes from this process as `location` and apply the results."""
    return services.results_apply(location=location, runs=_run(location, items, wait_until_due=wait_until_due))


# Write-behind: a worker hands a batch's results to its writer thread and takes the
# next batch at once. Beat sends a batch per second, each holding the probes due in
# that second; written in line, every batch started late by the time the previous
# one took to write (a quarter of a second for 333 probes), and a slow write pushed
# every later batch back. At most one write waits behind the one in progress, so a
# worker that cannot keep up slows down instead of queueing results in memory.
_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="probe-results")
_pending: deque[Future[dict[str, int]]] = deque()


def _write(location: Location, runs: list[engine.Run]) -> dict[str, int]:
    try:
        return services.results_apply(location=location, runs=runs)
    except Exception:
        log.exception("could not record %d results from %s", len(runs), location.name)
        raise
    finally:
        connection.close()  # this thread's connection: back to the pool, or closed


def drain() -> None:
    """Wait for the results handed to the writer (at worker shutdown, and in tests)."""
    while _pending:
        try:
            _pending.popleft().result()
        except Exception:  # noqa: BLE001 - logged by _write; a later run records the probe again
            pass


def run_write_behind(location: Location, items: list[tuple[int, datetime]]) -> int:
    """Run a batch as a worker does: at its due times, results written behind."""
    runs = _run(location, items, wait_until_due=True)
    while len(_pending) > 1 or (_pending and _pending[0].done()):
        try:
            _pending.popleft().result()
        except Exception:  # noqa: BLE001 - logged by _write
            pass
    _pending.append(_writer.submit(_write, location, runs))
    return len(runs)


@worker_shutdown.connect  # the solo and threads pools: after the last task
@worker_process_shutdown.connect  # a prefork child, before it exits without atexit
def _drain_at_shutdown(**_kwargs: Any) -> None:
    drain()


@shared_task(name="health.schedule_due", ignore_result=True)
def schedule_due() -> int:
    """From beat, every second: queue the due probes, per location batch."""
    return schedule()


@shared_task(name="health.run_batch", ignore_result=True, acks_late=True)
def run_batch(location_name: str, items: list[list[Any]]) -> dict[str, int]:
    """Run one batch of probes from this worker's location. Running it twice inserts no
    second result (unique per probe, location and scheduled time) and moves no state twice.
    The results are written behind (`run_write_behind`): a worker stopped before they
    are written loses those runs, and the probes' next runs record them again."""
    location = Location.objects.filter(name=location_name).first()
    if location is None:
        if location_name != settings.HEALTH_DEFAULT_LOCATION:
            return {}
        location = services.default_location()
    parsed = [(int(pk), parse_datetime(when)) for pk, when in items]
    return {"run": run_write_behind(location, [(pk, when) for pk, when in parsed if when is not None])}


@shared_task(name="health.settle_held", ignore_result=True)
def settle_held() -> int:
    """Effects held back by a maintenance window go out once it is over."""
    ids = list(
        Probe.objects.filter(status__in=SETTLED_STATES).exclude(policy=Policy.RECORD).exclude(status=F("signalled_status"))
        .values_list("pk", flat=True)[:500]
    )  # fmt: skip
    for pk in ids:
        services.probe_evaluate(probe_id=pk)
    return len(ids)


@shared_task(name="health.prune_results", ignore_result=True)
def prune_results() -> int:
    return services.results_prune()


@shared_task(name="health.build_rollups", ignore_result=True)
def build_rollups() -> dict[str, int]:
    """From beat, every minute: the last complete minute, hour and day."""
    return rollups.rollup_recent()
