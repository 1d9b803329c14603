"""Celery tasks of paging: they take primary keys and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from incidents.oncall import paging, reminders


@shared_task(name="oncall.run_step")
def run_step(escalation_id: int, step: int) -> bool:
    """Page one step, and with it every other step now due (in batches, see `escalations_run_due`).
    A redelivered or duplicated task finds the step claimed and does nothing."""
    paging.escalations_run_due()
    return paging.escalation_run_step(escalation_id=escalation_id, step=step)


@shared_task(name="oncall.sweep")
def sweep() -> int:
    """From beat: missed starts, breaches, due steps (re-armed after any restart), reminders."""
    count = paging.escalations_sweep()
    reminders.reminders_sweep()
    reminders.handoffs_sweep()
    return count
