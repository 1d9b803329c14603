"""Runs: start, approve, check off, retry, cancel, and move a run to its next step.

Every start, end, approval and cancellation writes an audit row and, for a run on
an incident, a timeline event through the incident core's `incident_record_event`
(the core never imports runbooks). Automated steps are queued only after commit;
the executor claims them (runbooks/executor.py).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, TimelineKind
from incidents.services import incident_record_event
from portal.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from portal.models import display_name
from portal.realtime import broadcast, incident_group
from portal.text import clean_text
from runbooks.actions import get_action, render_parameters, validate_parameters
from runbooks.models import (
    TERMINAL_STEP_STATES,
    AuditEntry,
    Cluster,
    Run,
    Runbook,
    RunState,
    StepKind,
    StepRun,
    StepState,
)

log = logging.getLogger(__name__)
S = StepState


def _actor(by: Any) -> Any:
    return by if getattr(by, "is_authenticated", False) else None


def run_group(run_id: int) -> str:
    return f"runbook-run-{run_id}"


def _broadcast_after_commit(run: Run, step_run: StepRun | None = None) -> None:
    payload = {"run_id": run.pk, "state": run.state, "step_run_id": step_run.pk if step_run else None,
               "step_state": step_run.state if step_run else None}  # fmt: skip
    groups = [run_group(run.pk)] + ([incident_group(run.incident_id)] if run.incident_id else [])

    def send() -> None:
        for group in groups:
            broadcast(group, "runbook.run_changed", payload)

    transaction.on_commit(send)


def record(
    *, run: Run, action: str, by: Any, body: str, step_run: StepRun | None = None,
    parameters: dict[str, Any] | None = None, result: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """One audit row and, on an incident, one timeline event; then a live update."""
    AuditEntry.objects.create(actor=_actor(by), action=action, runbook_id=run.runbook_id, run=run, step_run=step_run,
                              parameters=parameters or {}, result=result or {})  # fmt: skip
    if run.incident_id:
        details = {"run_id": run.pk, "runbook_id": run.runbook_id, "action": action, "dry_run": run.dry_run}
        if step_run is not None:
            details.update(step_run_id=step_run.pk, step=step_run.order, state=step_run.state)
        incident_record_event(incident=run.incident_id, kind=TimelineKind.RUNBOOK_STEP, body=body, details=details, by=_actor(by))
    _broadcast_after_commit(run, step_run)


def enqueue(step_run_id: int) -> None:
    from runbooks.tasks import execute_step

    try:
        execute_step.apply_async(args=(step_run_id,), retry=False)
    except Exception:  # noqa: BLE001 - the step is stored as approved: the sweeper queues it again
        log.warning("could not queue step run %s; the sweeper will", step_run_id, exc_info=True)


def run_context(run: Run, incident: Incident | None) -> dict[str, Any]:
    """Values step parameters may be templated with."""
    context: dict[str, Any] = {"namespace": run.namespace or "default", "cluster": run.cluster.name if run.cluster else ""}
    if incident is not None:
        services = list(incident.services.values_list("slug", flat=True))
        alert = incident.alerts.order_by("-last_received_at").first()
        labels = dict(alert.labels) if alert else {}
        context.update(incident=f"INC-{incident.pk}", service=services[0] if services else labels.get("service", ""), labels=labels)
    return context


@transaction.atomic
def run_start(
    *, runbook: Runbook, by: Any, incident: Incident | None = None, cluster: Cluster | None = None,
    namespace: str = "", dry_run: bool = False,
) -> Run:  # fmt: skip
    steps = list(runbook.steps.order_by("order"))
    if not steps:
        raise ValidationFailed("This runbook has no steps.", fields={"runbook": ["Add steps before running it."]})
    automated = [s for s in steps if s.kind == StepKind.AUTOMATED]
    if any(get_action(s.action) and get_action(s.action).kubernetes for s in automated) and cluster is None:  # type: ignore[union-attr]
        raise ValidationFailed("Choose a cluster for the Kubernetes steps.", fields={"cluster": ["This field is required."]})
    namespace = clean_text(namespace, max_length=63)
    if namespace and cluster is not None and not cluster.allows(namespace):
        raise ValidationFailed("Namespace not allowed.", fields={"namespace": [f"{cluster.name} allows {', '.join(cluster.namespaces) or 'none'}."]})
    if incident is not None:
        incident = Incident.objects.get(pk=incident.pk)
    run = Run.objects.create(runbook=runbook, incident=incident, cluster=cluster, namespace=namespace, dry_run=dry_run,
                             started_by=_actor(by))  # fmt: skip
    run.context = run_context(run, incident)
    run.save(update_fields=["context"])
    step_runs = []
    for step in steps:
        parameters = step.parameters
        if step.kind == StepKind.AUTOMATED:
            action = get_action(step.action)
            if action is None:
                raise ValidationFailed("Unknown action.", fields={f"steps.{step.order}": [f"{step.action!r} is not an action."]})
            try:
                parameters = validate_parameters(action, render_parameters(step.parameters, run.context), allow_templates=False)
            except ValidationFailed as exc:
                raise ValidationFailed(f"Step {step.order}: {exc.message}",
                                       fields={f"steps.{step.order}.{k}": v for k, v in exc.fields.items()}) from exc  # fmt: skip
        step_runs.append(StepRun(
            run=run, step=step, order=step.order, kind=step.kind, title=step.title, instructions=step.instructions,
            command=step.command, action=step.action, parameters=parameters, requires_approval=step.requires_approval,
            dangerous=step.dangerous, continue_on_failure=step.continue_on_failure, timeout_seconds=step.timeout_seconds,
            due_minutes=step.due_minutes, due_from=step.due_from,
        ))  # fmt: skip
    StepRun.objects.bulk_create(step_runs)
    mode = " (dry run)" if dry_run else ""
    who = display_name(by) if _actor(by) else "The portal"
    record(run=run, action="run.started", by=by, body=f"{who} started runbook “{runbook.title}”{mode}",
           parameters={"runbook": runbook.pk, "cluster": cluster.name if cluster else None, "namespace": namespace,
                       "dry_run": dry_run})  # fmt: skip
    advance(run.pk)
    return run


def _finish(run: Run, state: str, by: Any = None) -> None:
    run.state = state
    run.finished_at = timezone.now()
    run.save(update_fields=["state", "finished_at"])
    record(run=run, action=f"run.{state}", by=by, body=f"Runbook “{run.runbook.title}” {state}", result={"state": state})


@transaction.atomic
def advance(run_id: int) -> Run:
    """Move the run on: the first step not finished decides. A manual step waits for a
    person; an automated one waits for approval or is queued; a failure stops the run
    unless the step may fail; an unknown outcome holds it until a person decides."""
    run = Run.objects.select_for_update().select_related("runbook").get(pk=run_id)
    if run.is_finished:
        return run
    step_runs = list(run.step_runs.select_for_update().order_by("order"))
    for index, sr in enumerate(step_runs):
        if sr.state == S.FAILED and not sr.continue_on_failure:
            for rest in step_runs[index + 1 :]:
                if rest.state in (S.PENDING, S.AWAITING_APPROVAL, S.APPROVED):
                    StepRun.objects.filter(pk=rest.pk).update(state=S.SKIPPED, finished_at=timezone.now())
            _finish(run, RunState.FAILED)
            return run
        if sr.state in TERMINAL_STEP_STATES:
            continue
        if sr.state == S.PENDING and sr.kind == StepKind.AUTOMATED:
            if sr.needs_approval:
                sr.state = S.AWAITING_APPROVAL
                sr.save(update_fields=["state"])
            else:
                sr.state = S.APPROVED
                sr.save(update_fields=["state"])
                transaction.on_commit(partial(enqueue, sr.pk))
            _broadcast_after_commit(run, sr)
        return run  # waiting on this step
    _finish(run, RunState.SUCCEEDED)
    return run


def _locked_step(step_run: StepRun | int) -> StepRun:
    pk = step_run if isinstance(step_run, int) else step_run.pk
    return StepRun.objects.select_for_update().select_related("run", "run__runbook").get(pk=pk)


def _refuse(sr: StepRun, requested: str, allowed_from: tuple[str, ...]) -> None:
    if sr.state not in allowed_from:
        raise InvalidTransition(f"Step {sr.order} is {sr.get_state_display().lower()}.", current=sr.state,
                                requested=requested, allowed=[])  # fmt: skip
    if sr.run.is_finished and sr.state != S.OUTCOME_UNKNOWN:
        raise Conflict(f"The run is {sr.run.state}.")


@transaction.atomic
def step_approve(*, step_run: StepRun | int, by: Any) -> StepRun:
    sr = _locked_step(step_run)
    _refuse(sr, S.APPROVED, (S.AWAITING_APPROVAL,))
    if sr.run.started_by_id is not None and sr.run.started_by_id == getattr(by, "pk", None):
        raise NotAllowed("Someone other than the person who started the run must approve this step.")
    now = timezone.now()
    sr.state, sr.approved_by, sr.approved_at = S.APPROVED, by, now
    sr.save(update_fields=["state", "approved_by", "approved_at"])
    # Queued first after commit, before the live updates `record` schedules: the
    # approval's latency is the time to the call, not to the last broadcast.
    transaction.on_commit(partial(enqueue, sr.pk))
    record(run=sr.run, step_run=sr, action="step.approved", by=by, body=f"{display_name(by)} approved step {sr.order}: {sr.title}",
           parameters={"action": sr.action, "parameters": sr.parameters})  # fmt: skip
    return sr


_OUTCOMES = (S.SUCCEEDED, S.FAILED, S.SKIPPED)


@transaction.atomic
def step_complete(*, step_run: StepRun | int, by: Any, outcome: str, note: str = "") -> StepRun:
    """A person checks off a manual step (done, failed, skipped), skips a step that
    waits for approval, or settles an automated step whose outcome is unknown after
    looking at the target."""
    if outcome not in _OUTCOMES:
        raise ValidationFailed("Unknown outcome.", fields={"outcome": [f"Choose one of {list(_OUTCOMES)}."]})
    sr = _locked_step(step_run)
    allowed: tuple[str, ...] = (S.OUTCOME_UNKNOWN, S.AWAITING_APPROVAL) + ((S.PENDING,) if sr.kind == StepKind.MANUAL else ())
    if sr.state == S.AWAITING_APPROVAL and outcome != S.SKIPPED:
        raise InvalidTransition("A step awaiting approval can only be approved or skipped.", current=sr.state,
                                requested=outcome, allowed=[S.APPROVED, S.SKIPPED])  # fmt: skip
    _refuse(sr, outcome, allowed)
    # Steps are done in order: only the run's current step can be checked off. A
    # checklist item (a step with a target time) is checked off whenever it is done.
    if sr.due_minutes is None and sr.run.step_runs.filter(order__lt=sr.order).exclude(state__in=TERMINAL_STEP_STATES).exists():
        raise Conflict("An earlier step is not finished yet.")
    was = sr.state
    sr.state, sr.finished_by, sr.finished_at = outcome, by, timezone.now()
    note = clean_text(note, max_length=5000, multiline=True)
    if note:
        sr.output = (sr.output + "\n" if sr.output else "") + f"{display_name(by)}: {note}"
    sr.save(update_fields=["state", "finished_by", "finished_at", "output"])
    verb = {"succeeded": "marked done", "failed": "marked failed", "skipped": "skipped"}[outcome]
    record(run=sr.run, step_run=sr, action=f"step.{outcome}", by=by, body=f"{display_name(by)} {verb} step {sr.order}: {sr.title}",
           parameters={"from": was, "note": note}, result={"state": outcome})  # fmt: skip
    if sr.run.state == RunState.FAILED and outcome != S.FAILED:
        Run.objects.filter(pk=sr.run_id).update(state=RunState.RUNNING, finished_at=None)
    advance(sr.run_id)
    return sr


@transaction.atomic
def step_retry(*, step_run: StepRun | int, by: Any) -> StepRun:
    """Run a failed or unknown-outcome automated step again, as a person decided: a new
    claim and idempotency key, and approval again where the step needs it."""
    sr = _locked_step(step_run)
    if sr.kind != StepKind.AUTOMATED:
        raise Conflict("Only automated steps are retried; check off a manual step instead.")
    if sr.run.state == RunState.CANCELLED:
        raise Conflict("The run is cancelled.")
    _refuse_finished = sr.state not in (S.FAILED, S.OUTCOME_UNKNOWN)
    if _refuse_finished:
        raise InvalidTransition(f"Step {sr.order} is {sr.get_state_display().lower()}.", current=sr.state,
                                requested="retry", allowed=[])  # fmt: skip
    was = sr.state
    StepRun.objects.filter(pk=sr.pk).update(state=S.PENDING, claimed_at=None, claimed_by="", approved_by=None, approved_at=None,
                                            finished_at=None, error="")  # fmt: skip
    sr.refresh_from_db()
    if sr.run.state == RunState.FAILED:
        Run.objects.filter(pk=sr.run_id).update(state=RunState.RUNNING, finished_at=None)
    # later steps skipped by the failure become pending again
    sr.run.step_runs.filter(order__gt=sr.order, state=S.SKIPPED, finished_by__isnull=True).update(state=S.PENDING, finished_at=None)
    record(run=sr.run, step_run=sr, action="step.retried", by=by, body=f"{display_name(by)} retried step {sr.order}: {sr.title}",
           parameters={"from": was, "attempt": sr.attempt + 1})  # fmt: skip
    advance(sr.run_id)
    return sr


@transaction.atomic
def run_cancel(*, run: Run | int, by: Any, reason: str = "") -> Run:
    """Stop a run: every step not started is cancelled. A step already running finishes
    (a Kubernetes call cannot be taken back half-way) and its result is recorded."""
    pk = run if isinstance(run, int) else run.pk
    run = Run.objects.select_for_update().select_related("runbook").get(pk=pk)
    if run.is_finished:
        raise InvalidTransition(f"The run is {run.state}.", current=run.state, requested=RunState.CANCELLED, allowed=[])
    now = timezone.now()
    run.step_runs.filter(state__in=[S.PENDING, S.AWAITING_APPROVAL, S.APPROVED]).update(state=S.CANCELLED, finished_at=now)
    run.state, run.finished_at = RunState.CANCELLED, now
    run.save(update_fields=["state", "finished_at"])
    reason = clean_text(reason, max_length=500)
    record(run=run, action="run.cancelled", by=by,
           body=f"{display_name(by)} cancelled runbook “{run.runbook.title}”" + (f": {reason}" if reason else ""),
           parameters={"reason": reason})  # fmt: skip
    return run
