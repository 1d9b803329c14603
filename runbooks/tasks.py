"""Celery tasks of runbooks (queue `runbooks`): they take primary keys and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from runbooks import executor


@shared_task(name="runbooks.execute_step", acks_late=True, reject_on_worker_lost=True)
def execute_step(step_run_id: int) -> str:
    """Never retried by Celery: a second run of this task claims nothing, and a step
    whose outcome is unknown waits for a person."""
    return executor.step_execute(step_run_id)


@shared_task(name="runbooks.sweep")
def sweep() -> dict[str, int]:
    return executor.sweep()
