"""The kill test: a real Celery worker is SIGKILLed at random points while it runs
the steps of many runs against the stub API server, then started again, over and
over. Broker redelivery (acks_late, reject_on_worker_lost, a short visibility
timeout here) hands the interrupted tasks to the next worker.

Afterwards: no Kubernetes call was made twice, and every step either succeeded
once (its one call carries its idempotency key) or is marked outcome unknown.
KILL_TEST_RUNS sets the number of runs (100 by default, as the issue asks).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from runbooks import executor
from runbooks.models import StepRun, StepState
from runbooks.services import StepInput, run_start, runbook_save
from runbooks.tests.processes import kill, purge_runbooks_queue, start_worker, worker_env
from runbooks.tests.support import cluster

RUNS = int(os.environ.get("KILL_TEST_RUNS", "100"))
KILLS = max(3, RUNS // 10)
S = StepState

pytestmark = pytest.mark.django_db(transaction=True)


def test_sigkilled_workers_never_call_kubernetes_twice(cast: Any, k8s: Any, settings: Any, own_tmp: Path) -> None:
    if connection.vendor == "sqlite" and "memory" in str(connection.settings_dict["NAME"]):
        pytest.skip("the worker needs a database file")
    rng = random.Random(int(os.environ.get("KILL_TEST_SEED", "9")))
    for i in range(RUNS):
        k8s.cluster.add_deployment("production", f"app-{i}", replicas=1)
    k8s.delay = 0.02  # each request takes a little while: kills land between GET, PATCH and the write
    purge_runbooks_queue()
    runbooks = [
        runbook_save(title=f"Scale app-{i}", by=cast.owner, steps=[
            StepInput(title="Scale", kind="automated", action="k8s.scale",
                      parameters={"kind": "deployment", "name": f"app-{i}", "namespace": "production", "replicas": 3}),
        ])  # fmt: skip
        for i in range(RUNS)
    ]
    env = worker_env(settings.RUNBOOKS_KUBECONFIG)
    log = own_tmp / "worker.log"
    worker = start_worker(env, log)
    try:
        # Drills: each step is approved at once and queued after its commit.
        runs = [run_start(runbook=runbook, by=cast.responder, cluster=cluster()) for runbook in runbooks]
        kills = 0
        deadline = time.monotonic() + 300
        last_progress, last_done = time.monotonic(), -1
        while time.monotonic() < deadline:
            done = StepRun.objects.filter(run__in=runs).exclude(state__in=[S.APPROVED, S.RUNNING]).count()
            if done != last_done:
                last_progress, last_done = time.monotonic(), done
            # Finished when nothing moves any more: what is left is `running` under a dead
            # worker's claim, or `approved` with its message lost; both are the sweeper's.
            if done == RUNS or (kills >= KILLS and time.monotonic() - last_progress > 10):
                break
            if kills < KILLS and _busy(worker.pid, deadline=time.monotonic() + 30):
                time.sleep(rng.uniform(0, 0.25))  # somewhere in a step: before, during or after its call
                kill(worker)
                kills += 1
                worker = start_worker(env, log)
            else:
                time.sleep(0.3)
        # As beat does, with the clock past every timeout: the sweeper marks steps whose
        # worker died mid-call, and queues again approved steps whose message a kill
        # lost (Redis hands a message over before it is recorded as unacknowledged).
        swept: Counter[str] = Counter()
        for _ in range(5):
            swept.update(executor.sweep(now=timezone.now() + timedelta(hours=1)))
            settle = time.monotonic() + 30
            while StepRun.objects.filter(run__in=runs, state__in=[S.APPROVED, S.RUNNING]).exists() and time.monotonic() < settle:
                time.sleep(0.2)
            if not StepRun.objects.filter(run__in=runs, state__in=[S.APPROVED, S.RUNNING]).exists():
                break
    finally:
        kill(worker)

    patches = [r for r in k8s.mutations() if r.method == "PATCH"]
    per_target = Counter(r.path for r in patches)
    assert max(per_target.values(), default=0) <= 1, [p for p, n in per_target.items() if n > 1]
    steps = {sr.parameters["name"]: sr for sr in StepRun.objects.filter(run__in=runs)}
    states = Counter(sr.state for sr in steps.values())
    assert set(states) <= {S.SUCCEEDED, S.OUTCOME_UNKNOWN}, (states, [sr.error for sr in steps.values()][:3], log.read_text()[-3000:])
    keys = {r.path.split("/")[-2]: r.headers.get("x-portal-idempotency-key") for r in patches}
    for name, sr in steps.items():
        if sr.state == S.SUCCEEDED:
            assert keys.get(name) == sr.idempotency_key  # called once, with this claim's key
    assert kills >= 1 and states[S.SUCCEEDED] > 0
    print(f"kill test: {RUNS} runs, {kills} kills, {dict(states)}, swept {dict(swept)}, {len(patches)} PATCH calls")



def _busy(pid: int, *, deadline: float) -> bool:
    """Wait until the worker `pid` has claimed a step (it is started and working)."""
    while time.monotonic() < deadline:
        if StepRun.objects.filter(state=S.RUNNING, claimed_by__endswith=f":{pid}").exists():
            return True
        if not StepRun.objects.filter(state=S.APPROVED).exists():
            return False
        time.sleep(0.02)
    return False
