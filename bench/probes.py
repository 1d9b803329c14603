"""Health probe engine benchmark on PostgreSQL with a real Celery worker.

    .venv/bin/python bench/probes.py [--probes 10000] [--interval 30] [--cycles 3] [--burst 10000]

1. burst: `--burst` HTTP probes run by the engine in this process against a local
   HTTP server (a separate process); probes/s per CPU-second of this process.
2. sustained: `--probes` HTTP probes at `--interval` seconds, their first runs
   spread over one interval; this process plays beat (`health.tasks.schedule`
   every second) and one Celery worker process (`--pool solo`) serves the queue
   `probes.local`. Over `--cycles` intervals: results/s, schedule lag (start of
   the run minus its scheduled time) p50/p99, the worker's CPU and peak memory.
3. the probes list page with those probes: p50/p99 of GET /health/probes/ (first
   page, a search, a filter, a late page by keyset) through Django's test client.

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench_probes),
REDIS_URL (default redis://127.0.0.1:6379), REDIS_DB_BROKER/CHANNELS/CACHE (12/13/14).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import result  # noqa: E402

SERVER = """
import sys
from aiohttp import web
DOC = b'{"status": "healthy", "checks": {"database": {"status": "healthy"}, "redis": {"status": "healthy"}}}'
async def health(request):
    return web.Response(body=DOC, content_type="application/json")
app = web.Application()
app.router.add_get("/health", health)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def configure_env() -> dict[str, str]:
    env = {
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_probes"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"),
        "REDIS_DB_BROKER": os.environ.get("REDIS_DB_BROKER", "12"),
        "REDIS_DB_CHANNELS": os.environ.get("REDIS_DB_CHANNELS", "13"),
        "REDIS_DB_CACHE": os.environ.get("REDIS_DB_CACHE", "14"),
        "DATA_DIR": os.environ.get("DATA_DIR", "/tmp/bench-probes-data"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
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
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def burst(url: str, count: int) -> None:
    from datetime import UTC, datetime

    from health import engine
    from health.probes import Spec

    specs = [Spec(i, "http", {"url": url}, {}, ["[STATUS] == 200", '[BODY].status == "healthy"'], 10.0, datetime.now(UTC))
             for i in range(count)]  # fmt: skip
    engine.run_batch(specs[:200])  # warm up
    cpu = time.process_time()
    began = time.perf_counter()
    runs, _ = engine.run_batch(specs, concurrency=1000)
    wall = time.perf_counter() - began
    cpu = time.process_time() - cpu
    ups = sum(1 for r in runs if r.outcome == "up")
    per_core = count / cpu
    print(f"burst: {count} probes in {wall:.2f} s wall, {cpu:.2f} s CPU: {count / wall:.0f} probes/s, {per_core:.0f} per CPU-second; {ups} up")
    result("bench/probes.py burst", f"{per_core:.0f} probes/s per core ({count / wall:.0f}/s wall)", ">= 1000 probes/s per core", per_core >= 1000 and ups == count)


def sustained(url: str, probes: int, interval: int, cycles: int, env: dict[str, str]) -> None:
    import psutil
    from django.utils import timezone

    from health import services, tasks
    from health.models import Probe, ProbeResult
    from incidents.models import Service

    service = Service.objects.create(slug="bench", name="Bench")
    location = services.default_location()
    now = timezone.now()
    rows = [Probe(service=service, name=f"probe {i}", kind="http", target={"url": url},
                  conditions=["[STATUS] == 200", '[BODY].status == "healthy"'], interval_seconds=interval, timeout_seconds=10,
                  next_run_at=now + timedelta(seconds=5 + interval * i / probes)) for i in range(probes)]  # fmt: skip
    Probe.objects.bulk_create(rows, batch_size=2000)
    Probe.locations.through.objects.bulk_create(
        [Probe.locations.through(probe_id=pk, location_id=location.pk) for pk in Probe.objects.values_list("pk", flat=True)], batch_size=5000
    )
    log = open(Path(env["DATA_DIR"]) / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", "probes.local", "--pool", "solo", "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    time.sleep(3)
    process = psutil.Process(worker.pid)
    peak_rss = 0
    start = timezone.now() + timedelta(seconds=5)  # measure from the first scheduled run
    end = start + timedelta(seconds=interval * cycles)
    cpu_began: float | None = None
    try:
        while timezone.now() < end + timedelta(seconds=3):
            tick = time.monotonic()
            tasks.schedule()
            times = process.cpu_times()
            if cpu_began is None and timezone.now() >= start:
                cpu_began = times.user + times.system
            peak_rss = max(peak_rss, process.memory_info().rss)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        times = process.cpu_times()
        cpu_used = times.user + times.system - (cpu_began or 0.0)
        time.sleep(8)  # the last batches land
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
    measured = ProbeResult.objects.filter(scheduled_at__gte=start, scheduled_at__lt=end)
    lags = [(started - scheduled).total_seconds() for started, scheduled in measured.values_list("started_at", "scheduled_at")]
    ups = measured.filter(outcome="up").count()
    seconds = (end - start).total_seconds()
    expected = probes * cycles
    rate = len(lags) / seconds
    p50, p99 = pct(lags, 0.5), pct(lags, 0.99)
    print(f"sustained: {len(lags)} results of {expected} expected in {seconds:.0f} s: {rate:.0f} probes/s; "
          f"{ups} up; lag p50 {p50:.3f} s, p99 {p99:.3f} s; worker CPU {cpu_used:.1f} s "
          f"({100 * cpu_used / seconds:.0f}% of a core), peak RSS {peak_rss / 2**20:.0f} MiB")  # fmt: skip
    result("bench/probes.py sustained", f"lag p99 {p99:.2f} s at {rate:.0f} probes/s ({len(lags)}/{expected} runs, "
           f"{100 * cpu_used / seconds:.0f}% CPU, {peak_rss / 2**20:.0f} MiB)", "lag p99 <= 1 s, every run",
           p99 <= 1.0 and len(lags) >= expected * 0.99)  # fmt: skip


def list_page(probes: int) -> None:
    from django.test import Client

    from portal.models import Membership, OrgRole
    from portal.tests.factories import UserFactory

    user = UserFactory.create(username="bench-viewer")
    Membership.objects.update_or_create(user=user, defaults={"role": OrgRole.VIEWER})
    client = Client()
    client.force_login(user)
    timings: list[float] = []
    from health.models import Probe

    late = Probe.objects.order_by("id").values_list("pk", flat=True)[min(50, probes - 1)]  # the last page but one
    urls = ["/health/probes/", "/health/probes/?q=probe+99", "/health/probes/?kind=http&status=up", f"/health/probes/?after={late}"]
    for url in urls:
        assert client.get(url).status_code == 200
    for _ in range(25):
        for url in urls:
            began = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200
    p50, p99 = pct(timings, 0.5), pct(timings, 0.99)
    print(f"probes list with {probes} probes: p50 {p50:.0f} ms, p99 {p99:.0f} ms over {len(timings)} requests")
    result("bench/probes.py list page", f"p99 {p99:.0f} ms with {probes} probes", "p99 <= 300 ms", p99 <= 300)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=30)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--burst", type=int, default=10_000)
    args = parser.parse_args()
    env = configure_env()
    Path(env["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    recreate_database(env["DATABASE_URL"])
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=ROOT)
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        time.sleep(1)
        url = f"http://127.0.0.1:{port}/health"
        burst(url, args.burst)
        sustained(url, args.probes, args.interval, args.cycles, env)
        list_page(args.probes)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
