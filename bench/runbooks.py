"""Runbook step latency: from an approval to the Kubernetes call arriving at the API server.

    .venv/bin/python bench/runbooks.py [--runs 50] [--pool threads] [--concurrency 32] [--pace 0.1]

A throwaway portal (its own DATA_DIR: SQLite and the embedded Redis; or
BENCH_DATABASE_URL and REDIS_URL), the stub Kubernetes API server of the tests in
this process, and a real Celery worker on the `runbooks` queue, as production
runs it (docker-compose's `worker-runbooks`: a thread pool, `--concurrency`). `--runs` runs are started, each waiting on the approval of one
scale step (all in flight at once); a second person approves them, then the time
from each approval's commit to its PATCH arriving at the API server is taken.

Two rounds: "burst" approves every run at once; "paced" approves one every
`--pace` seconds while the others stay in flight. Target: p99 <= 500 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import result  # noqa: E402

TARGET_MS = 500.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pool", default="threads", choices=["prefork", "threads", "solo"],
                        help="the worker's pool (production: threads, as docker-compose's worker-runbooks)")
    parser.add_argument("--pace", type=float, default=0.1, help="seconds between approvals in the paced round")
    args = parser.parse_args()

    data_dir = ROOT / "var" / "bench-runbooks"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    os.environ["DATA_DIR"] = str(data_dir)
    if os.environ.get("BENCH_DATABASE_URL"):
        os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from portal import embedded_redis

    redis_process = embedded_redis.ensure_running_for_settings()
    call_command("migrate", interactive=False, verbosity=0)

    from portal.models import OrgRole
    from portal.tests.factories import UserFactory
    from runbooks.models import Cluster, StepRun
    from runbooks.services import StepInput, run_start, runbook_save, step_approve
    from runbooks.tests.k8s_stub import running_stub, write_kubeconfig
    from runbooks.tests.processes import kill, purge_runbooks_queue, start_worker

    starter = UserFactory.create(username="starter", role=OrgRole.RESPONDER)
    approver = UserFactory.create(username="approver", role=OrgRole.RESPONDER)
    cluster = Cluster.objects.create(name="stub", context="stub", namespaces=["production"])
    tmp = Path(tempfile.mkdtemp(prefix="bench-runbooks-"))
    worker = None
    figures: dict[str, list[float]] = {}
    breakdown: dict[str, tuple[list[float], list[float]]] = {}
    try:
        with running_stub() as stub:
            kubeconfig = str(write_kubeconfig(tmp / "kubeconfig", stub.url))
            env = {k: v for k, v in os.environ.items()}
            env.update(RUNBOOKS_KUBECONFIG=kubeconfig, DATA_DIR=str(data_dir), WORKER_POOL=args.pool,
                       WORKER_CONCURRENCY=str(args.concurrency), VISIBILITY_TIMEOUT="3600")  # fmt: skip
            if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
                env["DATABASE_URL"] = f"sqlite:///{settings.DATABASES['default']['NAME']}"
            purge_runbooks_queue()
            worker = start_worker(env, data_dir / "worker.log")

            def round_of(name: str, count: int, pace: float) -> list[float]:
                steps = []
                for i in range(count):
                    app = f"{name}-{i}"
                    stub.cluster.add_deployment("production", app, replicas=1)
                    runbook = runbook_save(title=f"Scale {app}", by=starter, steps=[
                        StepInput(title="Scale", kind="automated", action="k8s.scale", requires_approval=True,
                                  parameters={"kind": "deployment", "name": app, "namespace": "production", "replicas": 2}),
                    ])  # fmt: skip
                    run = run_start(runbook=runbook, by=starter, cluster=cluster)
                    steps.append(run.step_runs.get())
                approved_at: dict[str, float] = {}
                wall_at: dict[str, float] = {}
                for step in steps:
                    step_approve(step_run=step, by=approver)  # commits, then queues the task
                    approved_at[step.parameters["name"]] = time.monotonic()
                    wall_at[step.parameters["name"]] = time.time()
                    if pace:
                        time.sleep(pace)
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    if not StepRun.objects.filter(pk__in=[s.pk for s in steps]).exclude(state="succeeded").exists():
                        break
                    time.sleep(0.1)
                arrivals = {r.path.split("/")[-2]: r.at for r in stub.mutations() if r.path.split("/")[-2] in approved_at}
                missing = set(approved_at) - set(arrivals)
                if missing:
                    raise SystemExit(f"{name}: {len(missing)} calls never arrived (see {data_dir / 'worker.log'})")
                # Where the time goes: waiting in the queue (approval → the worker's claim)
                # and the worker's part (claim → the PATCH at the API server).
                claims = {sr.parameters["name"]: sr.claimed_at.timestamp() for sr in  # type: ignore[union-attr]  # every step was claimed (checked above)
                           StepRun.objects.filter(pk__in=[s.pk for s in steps])}
                queued = [(claims[app] - wall_at[app]) * 1000 for app in approved_at]
                working = [(arrivals[app] - approved_at[app]) * 1000 - q for app, q in zip(approved_at, queued, strict=True)]
                breakdown[name] = (queued, working)
                return [(arrivals[app] - approved_at[app]) * 1000 for app in approved_at]

            round_of("warmup", 2 * args.concurrency, 0.05)  # every pool process has its client
            figures["burst"] = round_of("burst", args.runs, 0.0)
            figures["paced"] = round_of("paced", args.runs, args.pace)
    finally:
        if worker is not None:
            kill(worker)
        shutil.rmtree(tmp, ignore_errors=True)
        embedded_redis.stop(redis_process)

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    ok = True
    for name, values in figures.items():
        p50, p99 = statistics.median(values), percentile(values, 99)
        print(f"{name}: {len(values)} approvals with {args.runs} runs in flight, approval → API server "
              f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(values):.0f} ms (worker: {args.pool} pool, concurrency {args.concurrency})")
        queued, working = breakdown[name]
        print(f"  of which in the queue p50 {statistics.median(queued):.0f} ms, p99 {percentile(queued, 99):.0f} ms; "
              f"claim → call p50 {statistics.median(working):.0f} ms, p99 {percentile(working, 99):.0f} ms")
        met = p99 <= TARGET_MS
        ok = ok and met
        result(f"runbooks: approval → Kubernetes call, {name}", f"p99 {p99:.0f} ms ({args.runs} runs in flight)", "p99 <= 500 ms", met)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
