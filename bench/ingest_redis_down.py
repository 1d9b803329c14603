"""Webhook answers while Redis is down, on PostgreSQL with the real web process.

    .venv/bin/python bench/ingest_redis_down.py [--posts 2000] [--clients 40] [--rate 100] [--web-workers 2]

It (re)creates its own database (`bench_ingest_redis_down` by default), migrates
it, and starts the web process exactly as `runportal` does, with REDIS_URL
pointing at a Redis that is not there, in two ways:

- refused: a port where nothing listens (connections are refused at once);
- silent: a port that accepts connections and never answers, the harder case
  (every Redis call waits for its timeout).

For each, `--clients` concurrent senders post Alertmanager notifications (each
its own group of alerts), together `--rate` per second (each sender on its own
schedule, as independent Alertmanagers would; 0: as fast as they can), and it
measures the webhook's answer time (target: p99 <= 100 ms) and an API read made
during the burst, then checks that every
delivery was stored (pending, for the sweeper once Redis is back). The same load
with Redis up comes first, as the baseline on this machine: the outage should
cost nothing beside it.

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench_ingest_redis_down),
BENCH_REDIS_URL for the baseline (default redis://127.0.0.1:6379, databases 9/10/11; the
broker database is emptied after it).
"""

from __future__ import annotations

import argparse
import http.client
import os
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from _report import result  # noqa: E402
from ingest import free_port, notification, percentile, post_all, recreate_database  # noqa: E402


def post_paced(port: int, path: str, bodies: list[bytes], clients: int, rate: float) -> list[float]:
    """Each sender posts every clients/rate seconds on its own schedule (a late
    post goes at once); returns the answer times (s)."""
    if rate <= 0:
        return post_all(port, path, bodies, clients)
    interval = clients / rate
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    began = time.perf_counter() + 0.1

    def run(me: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for k, body in enumerate(bodies[me::clients]):
            delay = began + me * interval / clients + k * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            started = time.perf_counter()
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 202:
                failures.append(response.status)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} posts were not accepted, e.g. {failures[:5]}")
    return latencies


TARGET_MS = 100.0


@contextmanager
def redis_down(mode: str) -> Iterator[str]:
    """A REDIS_URL where Redis does not answer (or, for "up", the real one)."""
    if mode == "up":
        yield os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
        return
    if mode == "refused":
        yield f"redis://127.0.0.1:{free_port()}"  # bound once, closed: nothing listens there
        return
    with socket.socket() as server:  # accepts (the kernel does the handshake), never reads or replies
        server.bind(("127.0.0.1", 0))
        server.listen(1024)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}"


@contextmanager
def web(env: dict[str, str], port: int, workers: int) -> Iterator[None]:
    from portal.management.commands.runportal import web_command

    log = (Path(env["DATA_DIR"]) / "web.log").open("wb")
    process = subprocess.Popen(
        web_command(sys.executable, "127.0.0.1", port),
        cwd=ROOT, env={**os.environ, **env, "WEB_CONCURRENCY": str(workers), "PORTAL_NO_EMBEDDED_REDIS": "1"},
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/health/live")
                conn.getresponse().read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"web did not start; see {env['DATA_DIR']}/web.log") from None
                time.sleep(0.2)
        yield
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def api_reads(port: int, token: str, stop: threading.Event, out: list[float]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set():
        started = time.perf_counter()
        conn.request("GET", "/api/v1/incidents/", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"API read answered {response.status}")
        out.append(time.perf_counter() - started)
        time.sleep(0.05)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--rate", type=float, default=100.0, help="posts per second from all senders together; 0: unpaced")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--alerts-per", type=int, default=5)
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_ingest_redis_down")
    data_dir = os.environ.get("DATA_DIR", "/tmp/bench-ingest-redis-down")
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    base_env = {
        "DATABASE_URL": database_url, "DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "portal.settings",
        "LOG_LEVEL": "ERROR", "DEBUG": "0", "PYTHONUNBUFFERED": "1",
        "REDIS_DB_BROKER": "9", "REDIS_DB_CHANNELS": "10", "REDIS_DB_CACHE": "11",
    }  # fmt: skip
    recreate_database(database_url)
    with redis_down("refused") as url:  # set-up needs no Redis either
        os.environ.update({**base_env, "REDIS_URL": url})
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=os.environ, check=True)
        import django

        django.setup()
    from incidents.integrations import services
    from incidents.models import Delivery, DeliveryStatus, IntegrationKind
    from portal.models import ApiToken
    from portal.tests.factories import UserFactory

    viewer = UserFactory.create(username="bench-reader", role="viewer")
    _, api_token = ApiToken.issue(user=viewer, name="bench", scope="read")
    _, token = services.integration_create(kind=IntegrationKind.ALERTMANAGER, name="bench", by=None, rate_limit_per_minute=1_000_000)
    start = datetime.now(UTC) - timedelta(minutes=5)
    path = f"/integrations/alertmanager/{token}/"
    met_all = True

    for mode in ("up", "refused", "silent"):
        with redis_down(mode) as url:
            env = {**base_env, "REDIS_URL": url}
            port = free_port()
            before = Delivery.objects.count()
            with web(env, port, args.web_workers):
                warmup = [notification(f"{mode}-w{n}", [(f"{mode}-w{n}-0", start)]) for n in range(args.clients)]
                post_all(port, path, warmup, args.clients)
                bodies = [
                    notification(f"{mode}-g{n}", [(f"{mode}-g{n}-a{k}", start + timedelta(seconds=k)) for k in range(args.alerts_per)])
                    for n in range(args.posts)
                ]
                reads: list[float] = []
                stop = threading.Event()
                reader = threading.Thread(target=api_reads, args=(port, api_token, stop, reads))
                reader.start()
                began = time.perf_counter()
                latencies = post_paced(port, path, bodies, args.clients, args.rate)
                elapsed = time.perf_counter() - began
                stop.set()
                reader.join()
            if mode == "up":
                import redis

                redis.Redis.from_url(f"{url.rstrip('/')}/9").flushdb()  # no worker ran: drop the queued tasks
            stored = Delivery.objects.count() - before
            pending = Delivery.objects.filter(status=DeliveryStatus.PENDING).count()
            p99 = percentile(latencies, 99) * 1000
            met = p99 <= TARGET_MS and stored == len(bodies) + len(warmup)
            print(f"Redis {'up (baseline)' if mode == 'up' else f'down ({mode})'}: webhook answer p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99:.1f} ms "
                  f"(target <= {TARGET_MS:.0f} ms), max {max(latencies) * 1000:.1f} ms over {len(latencies)} posts with "
                  f"{args.clients} senders ({len(latencies) / elapsed:.0f} posts/s); API read during the burst "
                  f"p99 {percentile(reads, 99) * 1000:.1f} ms, max {max(reads) * 1000:.1f} ms over {len(reads)} reads; "
                  f"stored {stored}/{len(bodies) + len(warmup)}; {pending} pending in all")  # fmt: skip
            if mode != "up":
                met_all &= met
                result(f"alert ingestion with Redis down ({mode}), webhook answer", f"p99 {p99:.1f} ms", f"p99 <= {TARGET_MS:.0f} ms", met)
    if not met_all:
        sys.exit(1)


if __name__ == "__main__":
    main()
