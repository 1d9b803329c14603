"""Alert ingestion benchmark on PostgreSQL with real web and worker processes.

    .venv/bin/python bench/ingest.py [--notifications 600] [--alerts-per 10] [--replay 10000]

It (re)creates its own database (`bench_ingest` by default), migrates it, starts
uvicorn (web) and a Celery worker on the `alerts` queue, then measures:

0. receive only: the same posts with no worker running, to time the webhook
   answer by itself; then the worker drains that backlog.
1. sustained: Alertmanager v4 notifications (each a new group of `--alerts-per`
   firing alerts) posted by concurrent clients; alerts/s from the first post until
   every alert row and every incident row is committed; the webhook's answer time
   (p50/p99).
2. replay: `--replay` notifications (groups of 1-3 alerts over a fixed set of group
   keys) each sent three times, all shuffled; afterwards there must be exactly one
   incident per group key and nothing left pending.

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench_ingest),
REDIS_URL (default redis://127.0.0.1:6379) and REDIS_DB_BROKER/CHANNELS/CACHE (9/10/11).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import result  # noqa: E402


def configure_env() -> dict[str, str]:
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_ingest")
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"),
        "REDIS_DB_BROKER": os.environ.get("REDIS_DB_BROKER", "9"),
        "REDIS_DB_CHANNELS": os.environ.get("REDIS_DB_CHANNELS", "10"),
        "REDIS_DB_CACHE": os.environ.get("REDIS_DB_CACHE", "11"),
        "DATA_DIR": os.environ.get("DATA_DIR", "/tmp/bench-ingest-data"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    return env


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name])
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def processes(env: dict[str, str], port: int, concurrency: int, web_workers: int) -> Iterator[Any]:
    """Start the web processes; yields a function that starts the worker."""
    python = sys.executable
    log_dir = Path(env["DATA_DIR"])
    log_dir.mkdir(parents=True, exist_ok=True)
    commands = {
        "web": [python, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1", "--port", str(port),
                "--no-access-log", "--log-level", "warning", "--workers", str(web_workers)],
        "worker": [python, "-m", "celery", "-A", "portal", "worker", "-Q", "alerts", "--concurrency", str(concurrency),
                   "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
    }  # fmt: skip
    running = {}

    def start(name: str) -> None:
        log = (log_dir / f"{name}.log").open("wb")
        running[name] = subprocess.Popen(commands[name], cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)

    def start_worker() -> None:
        start("worker")
        time.sleep(2)  # the worker connects to the broker

    start("web")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/health/live")
                conn.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"web did not start; see {log_dir / 'web.log'}") from None
                time.sleep(0.2)
        yield start_worker
    finally:
        for process in running.values():
            process.send_signal(signal.SIGTERM)
        for process in running.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def notification(group: str, alerts: list[tuple[str, datetime]]) -> bytes:
    items = [
        {"status": "firing", "labels": {"alertname": group, "instance": fp, "severity": "warning"},
         "annotations": {"summary": f"{group} on {fp}"}, "startsAt": rfc3339(starts), "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "http://prometheus.bench/graph", "fingerprint": fp}
        for fp, starts in alerts
    ]  # fmt: skip
    body = {"receiver": "portal", "status": "firing", "alerts": items, "groupLabels": {"alertname": group},
            "commonLabels": {"alertname": group}, "commonAnnotations": {}, "externalURL": "http://alertmanager.bench",
            "version": "4", "groupKey": f'{{}}:{{alertname="{group}"}}', "truncatedAlerts": 0}  # fmt: skip
    return json.dumps(body).encode()


def post_all(port: int, path: str, bodies: list[bytes], clients: int) -> list[float]:
    """Post every body from `clients` keep-alive connections; returns answer times (s)."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    index = iter(range(len(bodies)))

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        while True:
            with lock:
                i = next(index, None)
            if i is None:
                break
            started = time.perf_counter()
            conn.request("POST", path, body=bodies[i], headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 202:
                failures.append(f"{response.status}")
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} posts were not accepted, e.g. {failures[:5]}")
    return latencies


def wait_processed(timeout: float) -> float:
    from incidents.models import Delivery, DeliveryStatus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists():
            return time.perf_counter()
        time.sleep(0.05)
    raise RuntimeError("deliveries still pending after the timeout")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notifications", type=int, default=600)
    parser.add_argument("--alerts-per", type=int, default=10)
    parser.add_argument("--replay", type=int, default=10_000)
    parser.add_argument("--replay-groups", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args()

    env = configure_env()
    recreate_database(env["DATABASE_URL"])
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env={**os.environ, **env}, check=True)

    import django

    django.setup()
    import redis

    from incidents.integrations import services
    from incidents.models import Alert, AlertGroup, Incident, IntegrationKind

    base = env["REDIS_URL"].rstrip("/")
    redis.Redis.from_url(f"{base}/{env['REDIS_DB_BROKER']}").flushdb()  # no task left from an earlier run

    sustained, token = services.integration_create(kind=IntegrationKind.ALERTMANAGER, name="bench", by=None, rate_limit_per_minute=1_000_000)
    replay, replay_token = services.integration_create(kind=IntegrationKind.ALERTMANAGER, name="bench-replay", by=None, rate_limit_per_minute=1_000_000)
    port = free_port()
    start = datetime.now(UTC) - timedelta(minutes=5)

    with processes(env, port, args.worker_concurrency, args.web_workers) as start_worker:
        # warm-up: connections, imports, first queries
        post_all(port, f"/integrations/alertmanager/{token}/", [notification("warmup", [("warmup-0", start)])], 1)

        # Receiving alone (no worker yet): what the webhook answer costs by itself;
        # then the worker drains the stored backlog.
        backlog = [
            notification(f"b{n}", [(f"b{n}-a{k}", start + timedelta(seconds=k)) for k in range(args.alerts_per)])
            for n in range(args.notifications)
        ]
        latencies = post_all(port, f"/integrations/alertmanager/{token}/", backlog, args.clients)
        print(f"receive only (worker stopped): webhook answer p50 {statistics.median(latencies) * 1000:.1f} ms, "
              f"p99 {percentile(latencies, 99) * 1000:.1f} ms over {len(latencies)} posts with {args.clients} clients")  # fmt: skip
        began = time.perf_counter()
        start_worker()
        finished = wait_processed(900)
        print(f"backlog drain: {len(backlog) * args.alerts_per} alerts in {finished - began:.2f}s "
              f"→ {len(backlog) * args.alerts_per / (finished - began):.0f} alerts/s (worker start included)")  # fmt: skip
        sustained_before = Alert.objects.filter(integration=sustained).count()
        incidents_before = Incident.objects.filter(alert_groups__integration=sustained).count()

        bodies = [
            notification(f"g{n}", [(f"g{n}-a{k}", start + timedelta(seconds=k)) for k in range(args.alerts_per)])
            for n in range(args.notifications)
        ]
        total_alerts = args.notifications * args.alerts_per
        began = time.perf_counter()
        latencies = post_all(port, f"/integrations/alertmanager/{token}/", bodies, args.clients)
        posted = time.perf_counter()
        finished = wait_processed(600)
        alerts = Alert.objects.filter(integration=sustained).count() - sustained_before
        incidents = Incident.objects.filter(alert_groups__integration=sustained).count() - incidents_before
        assert alerts == total_alerts, (alerts, total_alerts)
        assert incidents == args.notifications, (incidents, args.notifications)
        elapsed = finished - began
        print(f"sustained: {total_alerts} alerts in {args.notifications} notifications, {elapsed:.2f}s end to end "
              f"→ {total_alerts / elapsed:.0f} alerts/s ({args.notifications / elapsed:.0f} notifications/s); "
              f"posting took {posted - began:.2f}s")  # fmt: skip
        print(f"webhook answer: p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms, "
              f"max {max(latencies) * 1000:.1f} ms over {len(latencies)} posts with {args.clients} clients")  # fmt: skip
        rate = total_alerts / elapsed
        result("alert ingestion, sustained end to end", f"{rate:.0f} alerts/s", ">= 1,000 alerts/s", rate >= 1000)
        answer_p99 = percentile(latencies, 99) * 1000
        result("alert ingestion, webhook answer", f"p99 {answer_p99:.1f} ms", "p99 <= 50 ms", answer_p99 <= 50)

        if args.replay <= 0:
            return
        rng = random.Random(4)
        groups = [f"r{n}" for n in range(args.replay_groups)]
        notifications = []
        for n in range(args.replay):
            group = groups[n % len(groups)]
            size = rng.randint(1, 3)
            members = rng.sample(range(8), size)
            notifications.append(notification(group, [(f"{group}-i{m}", start + timedelta(seconds=m)) for m in members]))
        sends = notifications * 3
        rng.shuffle(sends)
        began = time.perf_counter()
        latencies = post_all(port, f"/integrations/alertmanager/{replay_token}/", sends, args.clients)
        finished = wait_processed(900)
        per_key = list(AlertGroup.objects.filter(integration=replay).values_list("group_key", flat=True))
        incidents = Incident.objects.filter(alert_groups__integration=replay).distinct().count()
        timeline_alerts = Alert.objects.filter(integration=replay).count()
        from incidents.models import TimelineEvent

        alert_events = TimelineEvent.objects.filter(kind="alert", incident__alert_groups__integration=replay).count()
        ok = len(per_key) == len(set(per_key)) == len(groups) == incidents and alert_events == timeline_alerts
        print(f"replay: {len(sends)} posts ({args.replay} notifications x3, shuffled) over {len(groups)} group keys in "
              f"{finished - began:.2f}s ({len(sends) / (finished - began):.0f} notifications/s); incidents {incidents}, "
              f"group rows {len(per_key)}, alerts {timeline_alerts}, alert timeline events {alert_events} → "
              f"{'exactly one incident per group key' if ok else 'MISMATCH'}; answer p99 {percentile(latencies, 99) * 1000:.1f} ms")  # fmt: skip
        result("alert ingestion, shuffled triple replay", f"{incidents} incidents for {len(groups)} group keys",
               "exactly one incident per group key", ok)  # fmt: skip
        if not ok:
            sys.exit(1)


if __name__ == "__main__":
    main()
