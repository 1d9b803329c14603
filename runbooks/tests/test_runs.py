"""Runs: the step state machine, approvals by a second person, exactly-once
execution against the stub API server, the sweeper, timeline and audit."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from incidents.models import TimelineEvent, TimelineKind
from portal.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from portal.tests.factories import declare
from runbooks import executor
from runbooks.actions.kubernetes import IDEMPOTENCY_HEADER
from runbooks.models import AuditEntry, Run, RunState, StepRun, StepState
from runbooks.services import (
    StepInput,
    run_cancel,
    run_start,
    runbook_save,
    step_approve,
    step_complete,
    step_retry,
)
from runbooks.tests.support import approver, cluster, latency_runbook

S = StepState


def _steps(run: Run) -> list[StepRun]:
    return list(run.step_runs.order_by("order"))


def _start(cast: Any, **kwargs: Any) -> Run:
    incident = declare(by=cast.responder)
    return run_start(runbook=latency_runbook(cast.owner), by=cast.responder, incident=incident, cluster=cluster(),
                     **kwargs)  # fmt: skip


def test_a_run_copies_the_steps_and_waits_on_the_first_manual_one(cast: Any) -> None:
    run = _start(cast)
    first, scale, wait = _steps(run)
    assert (first.state, scale.state, wait.state) == (S.PENDING, S.PENDING, S.PENDING)
    assert scale.parameters["replicas"] == 5 and scale.needs_approval
    events = TimelineEvent.objects.filter(incident=run.incident, kind=TimelineKind.RUNBOOK_STEP)
    assert [e.details["action"] for e in events] == ["run.started"]
    assert AuditEntry.objects.filter(run=run, action="run.started", actor=cast.responder).exists()


def test_the_whole_run_with_a_second_persons_approval_calls_kubernetes_once(cast: Any, k8s: Any) -> None:
    run = _start(cast)
    first, scale, _ = _steps(run)
    step_complete(step_run=first, by=cast.responder, outcome="succeeded", note="p99 at 900 ms")
    scale.refresh_from_db()
    assert scale.state == S.AWAITING_APPROVAL
    with pytest.raises(NotAllowed):
        step_approve(step_run=scale, by=cast.responder)
    step_approve(step_run=scale, by=approver())
    assert executor.step_execute(scale.pk) == S.SUCCEEDED
    scale.refresh_from_db()
    assert scale.before["replicas"] == 3 and scale.after["replicas"] == 5
    [patch] = k8s.mutations()
    assert patch.headers[IDEMPOTENCY_HEADER.lower()] == scale.idempotency_key
    wait = _steps(run)[2]
    assert wait.state == S.APPROVED  # read-only: no approval needed, queued
    assert executor.step_execute(wait.pk) == S.SUCCEEDED
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED and run.finished_at
    actions = [e.details["action"] for e in TimelineEvent.objects.filter(incident=run.incident, kind=TimelineKind.RUNBOOK_STEP).order_by("id")]
    assert actions == ["run.started", "step.succeeded", "step.approved", "step.succeeded", "step.succeeded", "run.succeeded"]
    assert AuditEntry.objects.filter(run=run).count() == 6


def test_a_redelivered_task_changes_nothing(cast: Any, k8s: Any) -> None:
    run = _start(cast)
    first, scale, _ = _steps(run)
    step_complete(step_run=first, by=cast.responder, outcome="succeeded")
    step_approve(step_run=scale, by=approver())
    assert executor.step_execute(scale.pk) == S.SUCCEEDED
    assert executor.step_execute(scale.pk) == "not claimed"
    assert len(k8s.mutations()) == 1


def test_a_worker_dying_mid_step_leaves_an_unknown_outcome_that_is_never_rerun(cast: Any, k8s: Any) -> None:
    run = _start(cast)
    first, scale, _ = _steps(run)
    step_complete(step_run=first, by=cast.responder, outcome="succeeded")
    step_approve(step_run=scale, by=approver())
    key = executor.claim(scale.pk, worker="worker-1:42")  # ... and the worker is killed here
    assert key
    assert executor.sweep() == {"outcome_unknown": 0, "requeued": 0}  # not yet past its timeout
    later = timezone.now() + timedelta(seconds=scale.timeout_seconds) + executor.GRACE + timedelta(seconds=1)
    assert executor.sweep(now=later)["outcome_unknown"] == 1
    scale.refresh_from_db()
    assert scale.state == S.OUTCOME_UNKNOWN and "worker-1:42" in scale.error
    assert executor.step_execute(scale.pk) == "not claimed"  # the broker's redelivery
    assert k8s.mutations() == []
    run.refresh_from_db()
    assert run.state == RunState.RUNNING and _steps(run)[2].state == S.PENDING  # held until a person decides
    # a person looked at the deployment and retries; the retry needs approval again
    step_retry(step_run=scale, by=cast.responder)
    scale.refresh_from_db()
    assert scale.state == S.AWAITING_APPROVAL
    step_approve(step_run=scale, by=approver())
    assert executor.step_execute(scale.pk) == S.SUCCEEDED
    scale.refresh_from_db()
    assert scale.idempotency_key != key and scale.attempt == 2
    assert len(k8s.mutations()) == 1


def test_a_person_settles_an_unknown_outcome(cast: Any, k8s: Any) -> None:
    run = _start(cast)
    first, scale, wait = _steps(run)
    step_complete(step_run=first, by=cast.responder, outcome="succeeded")
    step_approve(step_run=scale, by=approver())
    executor.claim(scale.pk, worker="w")
    executor.sweep(now=timezone.now() + timedelta(hours=1))
    step_complete(step_run=scale, by=cast.responder, outcome="succeeded", note="replicas are 5")
    wait.refresh_from_db()
    assert wait.state == S.APPROVED


def test_a_late_answer_settles_a_step_the_sweeper_gave_up_on(cast: Any, k8s: Any) -> None:
    run = _start(cast)
    first, scale, _ = _steps(run)
    step_complete(step_run=first, by=cast.responder, outcome="succeeded")
    step_approve(step_run=scale, by=approver())
    key = executor.claim(scale.pk, worker="w")
    assert key is not None
    executor.sweep(now=timezone.now() + timedelta(hours=1))
    from runbooks.actions import ActionResult

    assert executor.finish(scale.pk, key=key, state=S.SUCCEEDED, result=ActionResult(ok=True, output="scaled")) == S.SUCCEEDED
    assert executor.finish(scale.pk, key="another", state=S.FAILED, result=ActionResult(ok=False)) == "claim lost"


def test_concurrent_workers_make_one_call(seeded_transactional_db: Any, cast: Any, k8s: Any) -> None:
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memorydb"):
        pytest.skip("threads need a shared database")
    run = _start(cast)
    first, scale, _ = _steps(run)
    step_complete(step_run=first, by=cast.responder, outcome="succeeded")
    step_approve(step_run=scale, by=approver())
    results: list[str] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        try:
            results.append(executor.step_execute(scale.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["not claimed"] * 3 + [S.SUCCEEDED]
    assert len(k8s.mutations()) == 1


def test_a_dry_run_sends_dry_run_all(cast: Any, k8s: Any) -> None:
    run = _start(cast, dry_run=True)
    first, scale, _ = _steps(run)
    step_complete(step_run=first, by=cast.responder, outcome="succeeded")
    step_approve(step_run=scale, by=approver())
    executor.step_execute(scale.pk)
    scale.refresh_from_db()
    assert "dry run" in scale.output
    assert [r.query.get("dryRun") for r in k8s.mutations()] == ["All"]
    assert k8s.cluster.deployments[("production", "api-gateway")]["spec"]["replicas"] == 3


def test_a_failure_stops_the_run_unless_the_step_may_fail(cast: Any, k8s: Any) -> None:
    del k8s.cluster.deployments[("production", "api-gateway")]
    run = _start(cast)
    first, scale, wait = _steps(run)
    step_complete(step_run=first, by=cast.responder, outcome="succeeded")
    step_approve(step_run=scale, by=approver())
    assert executor.step_execute(scale.pk) == S.FAILED
    scale.refresh_from_db()
    wait.refresh_from_db()
    run.refresh_from_db()
    assert "not found" in scale.error and wait.state == S.SKIPPED and run.state == RunState.FAILED


def test_continue_on_failure_moves_on(cast: Any, k8s: Any) -> None:
    del k8s.cluster.deployments[("production", "api-gateway")]
    incident = declare(by=cast.responder)
    run = run_start(runbook=latency_runbook(cast.owner, continue_on_failure=True), by=cast.responder, incident=incident,
                    cluster=cluster())  # fmt: skip
    first, scale, wait = _steps(run)
    step_complete(step_run=first, by=cast.responder, outcome="succeeded")
    step_approve(step_run=scale, by=approver())
    executor.step_execute(scale.pk)
    wait.refresh_from_db()
    assert wait.state == S.APPROVED


def test_cancelling_stops_queued_steps(cast: Any, k8s: Any) -> None:
    run = _start(cast)
    first, scale, wait = _steps(run)
    step_complete(step_run=first, by=cast.responder, outcome="succeeded")
    step_approve(step_run=scale, by=approver())
    run_cancel(run=run, by=cast.responder, reason="wrong incident")
    assert executor.step_execute(scale.pk) == "not claimed"
    assert k8s.calls() == []
    assert {s.state for s in _steps(run)[1:]} == {S.CANCELLED}
    with pytest.raises(InvalidTransition):
        run_cancel(run=run, by=cast.responder)
    assert TimelineEvent.objects.filter(incident=run.incident, details__action="run.cancelled").count() == 1


def test_steps_are_checked_off_in_order_and_only_once(cast: Any) -> None:
    run = _start(cast)
    first, scale, wait = _steps(run)
    with pytest.raises((Conflict, InvalidTransition)):
        step_complete(step_run=wait, by=cast.responder, outcome="succeeded")
    with pytest.raises(ValidationFailed):
        step_complete(step_run=first, by=cast.responder, outcome="exploded")
    step_complete(step_run=first, by=cast.responder, outcome="skipped")
    with pytest.raises(InvalidTransition):
        step_complete(step_run=first, by=cast.responder, outcome="succeeded")
    with pytest.raises(InvalidTransition):
        step_approve(step_run=wait, by=approver())


def test_parameters_are_templated_from_the_incident(cast: Any, k8s: Any) -> None:
    incident = declare(by=cast.responder, impacts={cast.service: "degraded_performance"})
    runbook = runbook_save(title="Restart the service", by=cast.owner, steps=[
        StepInput(title="Restart", kind="automated", action="k8s.rollout_restart", parameters={"name": "{{ service }}-gateway"}),
    ])  # fmt: skip
    run = run_start(runbook=runbook, by=cast.responder, incident=incident, cluster=cluster(), namespace="production")
    [restart] = _steps(run)
    assert restart.parameters == {"name": "api-gateway"} and restart.state == S.APPROVED
    assert executor.step_execute(restart.pk) == S.SUCCEEDED


def test_a_drill_has_no_incident_and_keeps_an_audit_trail(cast: Any) -> None:
    run = run_start(runbook=latency_runbook(cast.owner), by=cast.responder, cluster=cluster())
    assert run.is_drill
    step_complete(step_run=_steps(run)[0], by=cast.responder, outcome="succeeded")
    assert list(AuditEntry.objects.filter(run=run).order_by("id").values_list("action", flat=True)) == ["run.started", "step.succeeded"]


def test_a_run_needs_a_cluster_and_an_allowed_namespace(cast: Any) -> None:
    runbook = latency_runbook(cast.owner)
    with pytest.raises(ValidationFailed) as err:
        run_start(runbook=runbook, by=cast.responder)
    assert "cluster" in err.value.fields
    with pytest.raises(ValidationFailed):
        run_start(runbook=runbook, by=cast.responder, cluster=cluster(), namespace="kube-system")
    assert not Run.objects.exists()


def test_the_task_runs_the_step_and_a_second_delivery_is_a_no_op(cast: Any, k8s: Any) -> None:
    from runbooks.tasks import execute_step

    run = _start(cast)
    first, scale, _ = _steps(run)
    step_complete(step_run=first, by=cast.responder, outcome="succeeded")
    step_approve(step_run=scale, by=approver())
    assert execute_step.apply(args=(scale.pk,)).get() == S.SUCCEEDED
    assert execute_step.apply(args=(scale.pk,)).get() == "not claimed"
    assert len(k8s.mutations()) == 1
