"""Running an automated step exactly once.

1. Claim: one conditional UPDATE moves the step from `approved` to `running`, stamps
   the claim and a fresh idempotency key, and commits, before anything is sent.
   A second delivery of the same task (broker redelivery after a lost worker, a
   duplicate enqueue by the sweeper) finds the step no longer `approved` and does
   nothing.
2. Call the action, outside any transaction, with the key on the request.
3. Record: the result is stored only if the step still carries this claim's key;
   then the run moves on.

A worker that dies between 1 and 3 leaves the step `running` with its claim. The
sweeper marks it `outcome_unknown` once its timeout (plus a grace period) has
passed, and nothing runs it again unless a person says so (services.step_retry).
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from runbooks.actions import ActionContext, ActionError, ActionResult, OutcomeUnknown, get_action
from runbooks.models import RunState, StepRun, StepState, new_idempotency_key
from runbooks.services.runs import advance, enqueue, record

log = logging.getLogger(__name__)
S = StepState
GRACE = timedelta(seconds=60)
REQUEUE_AFTER = timedelta(seconds=30)
MAX_OUTPUT = 64_000


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(step_run_id: int, *, worker: str) -> str | None:
    """The idempotency key of this claim, or None when the step is not ours to run."""
    key = new_idempotency_key()
    # Only columns of the step row in the WHERE clause. A condition on the run (a join)
    # makes Django write `WHERE id IN (SELECT ...)`, and PostgreSQL, after waiting for
    # a concurrent claim's lock, re-checks the row but not the subquery: both claims
    # would win. A cancelled or failed run has no approved steps left anyway.
    claimed = StepRun.objects.filter(pk=step_run_id, state=S.APPROVED, claimed_at__isnull=True).update(state=S.RUNNING, claimed_at=timezone.now(), claimed_by=worker[:200], idempotency_key=key,
             attempt=F("attempt") + 1, started_at=timezone.now())  # fmt: skip
    return key if claimed == 1 else None


def step_execute(step_run_id: int, *, worker: str | None = None) -> str:
    """Run one approved step. Returns what happened, for the task's result and logs."""
    key = claim(step_run_id, worker=worker or worker_name())
    if key is None:
        return "not claimed"
    sr = StepRun.objects.select_related("run", "run__cluster", "run__runbook", "run__started_by", "approved_by").get(pk=step_run_id)
    action = get_action(sr.action)
    ctx = ActionContext(cluster=sr.run.cluster, namespace=sr.run.namespace, dry_run=sr.run.dry_run,
                        idempotency_key=key, timeout_seconds=sr.timeout_seconds, incident_id=sr.run.incident_id,
                        run_id=sr.run_id, by=sr.approved_by or sr.run.started_by)  # fmt: skip
    state, error = S.FAILED, ""
    result = ActionResult(ok=False)
    try:
        if action is None:
            raise ActionError(f"Unknown action {sr.action!r}.")
        result = action.execute(ctx, dict(sr.parameters))
        state = S.SUCCEEDED if result.ok else S.FAILED
    except ActionError as exc:
        error = str(exc)
    except OutcomeUnknown as exc:
        state, error = S.OUTCOME_UNKNOWN, str(exc)
    except Exception as exc:  # noqa: BLE001 - includes the soft time limit: the call may have gone out
        log.exception("step run %s raised", step_run_id)
        state = S.OUTCOME_UNKNOWN if action is not None and action.mutating else S.FAILED
        error = f"{type(exc).__name__}: {exc}"
    return finish(step_run_id, key=key, state=state, result=result, error=error)


@transaction.atomic
def finish(step_run_id: int, *, key: str, state: str, result: ActionResult, error: str = "") -> str:
    # A late answer also settles a step the sweeper had given up on: now it is known.
    updated = StepRun.objects.filter(pk=step_run_id, idempotency_key=key, state__in=[S.RUNNING, S.OUTCOME_UNKNOWN]).update(
        state=state, finished_at=timezone.now(), before=result.before, after=result.after,
        output=result.output[-MAX_OUTPUT:], error=error[:10_000],
    )  # fmt: skip
    if updated != 1:
        return "claim lost"
    sr = StepRun.objects.select_related("run", "run__runbook").get(pk=step_run_id)
    mode = " (dry run)" if sr.run.dry_run else ""
    words = {S.SUCCEEDED.value: "succeeded", S.FAILED.value: "failed", S.OUTCOME_UNKNOWN.value: "ended with an unknown outcome"}[state]
    detail = f": {error}" if error else ""
    record(run=sr.run, step_run=sr, action=f"step.{state}", by=None, body=f"Step {sr.order} “{sr.title}” {words}{mode}{detail}",
           parameters={"action": sr.action, "parameters": sr.parameters, "idempotency_key": key},
           result={"state": state, "before": result.before, "after": result.after, "error": error[:2000]})  # fmt: skip
    if state != S.OUTCOME_UNKNOWN:
        advance(sr.run_id)
    return state


def sweep(*, now: Any = None) -> dict[str, int]:
    """Mark steps whose worker vanished as `outcome_unknown`, and queue again approved
    steps nobody claimed (their enqueue was lost while the broker was down)."""
    now = now or timezone.now()
    unknown = 0
    for sr in StepRun.objects.filter(state=S.RUNNING, claimed_at__lt=now - GRACE).select_related("run"):
        if sr.claimed_at is None or sr.claimed_at + timedelta(seconds=sr.timeout_seconds) + GRACE > now:
            continue
        with transaction.atomic():
            if StepRun.objects.filter(pk=sr.pk, state=S.RUNNING, idempotency_key=sr.idempotency_key).update(
                state=S.OUTCOME_UNKNOWN, error=f"The worker ({sr.claimed_by}) stopped answering during the step."
            ) == 1:  # fmt: skip
                sr.state = S.OUTCOME_UNKNOWN
                record(run=sr.run, step_run=sr, action="step.outcome_unknown", by=None,
                       body=f"Step {sr.order} “{sr.title}”: outcome unknown, its worker stopped; check the target, then mark or retry it",
                       parameters={"claimed_by": sr.claimed_by, "idempotency_key": sr.idempotency_key})  # fmt: skip
                unknown += 1
    requeued = 0
    stale = StepRun.objects.filter(state=S.APPROVED, claimed_at__isnull=True, run__state=RunState.RUNNING)
    for pk in stale.filter(approved_at__lt=now - REQUEUE_AFTER).values_list("pk", flat=True):
        enqueue(pk)
        requeued += 1
    for pk in stale.filter(approved_at__isnull=True, run__started_at__lt=now - REQUEUE_AFTER).values_list("pk", flat=True):
        enqueue(pk)
        requeued += 1
    return {"outcome_unknown": unknown, "requeued": requeued}


__all__ = ["claim", "finish", "step_execute", "sweep", "worker_name"]
