"""Celery tasks of runbooks (queue `runbooks`): they take primary keys and are safe to run twice."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_init

from runbooks import executor


@worker_init.connect
def _warm_up(**kwargs: Any) -> None:
    # In the worker's parent process, before prefork children are made: they inherit it.
    from runbooks.actions.kubernetes import warm_up

    warm_up()


@shared_task(name="runbooks.execute_step", acks_late=True, reject_on_worker_lost=True)
def execute_step(step_run_id: int) -> str:
    """Never retried by Celery: a second run of this task claims nothing, and a step
    whose outcome is unknown waits for a person."""
    return executor.step_execute(step_run_id)


@shared_task(name="runbooks.sweep")
def sweep() -> dict[str, int]:
    return executor.sweep()
