"""Benchmark: websocket fan-out of the public status stream.

    .venv/bin/python bench/ws_fanout.py [--steps 1000,5000,10000] [--rounds 3]

Starts a throwaway portal (own DATA_DIR, SQLite, embedded Redis, demo data): the
web process exactly as `runportal` runs it and a Celery worker on the `snapshots`
queue. A separate client process opens N anonymous `ws/public/` connections; for
each step the bench posts a public update through the services layer and
measures, per client, the time from the post to the message arriving (the whole
path: commit, event, coalesced task, snapshot build, publish, group send,
websocket). Also: the part after the snapshot build started, and the web
processes' memory per 1,000 idle connections. Target: 10,000 clients, p99 <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _portal  # noqa: E402
from _report import result  # noqa: E402

VERSION = re.compile(rb'"version":(\d+)')


# --- the client process ------------------------------------------------------------


async def _client_process(port: int) -> None:
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    received: dict[int, list[float]] = defaultdict(list)
    sockets: list[Any] = []
    uri = f"ws://127.0.0.1:{port}/ws/public/"

    async def reader(ws: Any) -> None:
        try:
            async for message in ws:
                now = time.time()
                data = message.encode() if isinstance(message, str) else message
                match = VERSION.search(data[:120])
                if match:
                    received[int(match.group(1))].append(now)
        except Exception:  # noqa: BLE001 - a dropped client shows as a missing receipt
            pass

    async def open_one(version: int) -> None:
        for attempt in range(5):
            try:
                ws = await connect(uri, origin=Origin(f"http://127.0.0.1:{port}"), compression=None, ping_interval=None,
                                   open_timeout=60, max_size=2**22)  # fmt: skip
                break
            except Exception:  # noqa: BLE001 - retry a refused handshake under load
                await asyncio.sleep(0.2 * (attempt + 1))
        else:
            return
        await ws.send(json.dumps({"type": "hello", "version": version}))
        sockets.append(ws)
        asyncio.ensure_future(reader(ws))

    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line:
            return
        if line[0] == "connect":
            target, version = int(line[1]), int(line[2])
            semaphore = asyncio.Semaphore(100)

            async def limited(semaphore: asyncio.Semaphore, version: int) -> None:
                async with semaphore:
                    await open_one(version)

            await asyncio.gather(*(limited(semaphore, version) for _ in range(target - len(sockets))))
            print(json.dumps({"connected": len(sockets)}), flush=True)
        elif line[0] == "report":
            version = int(line[1])
            print(json.dumps({"count": len(received.get(version, [])), "times": received.get(version, [])}), flush=True)


# --- the parent ------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="1000,5000,10000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", default=tempfile.mkdtemp(prefix="fanout-bench-"))
    parser.add_argument("--client", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    limit = _portal.raise_nofile()
    if args.client:
        asyncio.run(_client_process(args.client))
        return
    steps = [int(s) for s in args.steps.split(",")]
    if max(steps) + 200 > limit:
        sys.exit(f"open-file limit {limit} is too low for {max(steps)} clients")

    redis_process = _portal.setup_django(args.data_dir)
    from incidents.models import Incident, IncidentStatus
    from incidents.public import rebuild, store
    from incidents.services import incident_post_update
    from portal import embedded_redis
    from portal.tests.factories import declare

    rebuild.rebuild()
    port = _portal.free_port()
    web = _portal.start_web(port)
    env = {**os.environ, "PORTAL_NO_EMBEDDED_REDIS": "1"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", "snapshots", "--pool", "solo", "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=_portal.ROOT, env=env,
    )  # fmt: skip
    clients = subprocess.Popen(
        [sys.executable, __file__, "--client", str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )

    def ask(command: str) -> dict[str, Any]:
        assert clients.stdin and clients.stdout
        clients.stdin.write(command + "\n")
        clients.stdin.flush()
        return json.loads(clients.stdout.readline())

    incident = Incident.objects.public().exclude(status=IncidentStatus.RESOLVED).first() or declare(
        title="Fan-out benchmark", visibility="public"
    )
    try:
        time.sleep(2)
        base = _portal.tree_rss_kib(web.pid)
        print(f"web processes: {base / 1024:.0f} MiB with no websocket clients")
        print(f"{'clients':>8} {'MiB/1k idle':>12} {'p50 ms':>8} {'p99 ms':>8} {'last ms':>8} {'p99 after build start':>22} {'received':>10}")
        for n in steps:
            current = store.redis_version()
            connected = ask(f"connect {n} {current}")["connected"]
            time.sleep(3)  # idle
            rss = _portal.tree_rss_kib(web.pid)
            per_1k = (rss - base) / 1024 / (connected / 1000)
            e2e: list[float] = []
            after_build: list[float] = []
            missing = 0
            for i in range(args.rounds):
                before = store.redis_version()
                t0 = time.time()
                incident_post_update(incident=incident, body=f"Benchmark update {n}/{i}", by=None)
                deadline = time.monotonic() + 30
                while store.redis_version() == before and time.monotonic() < deadline:
                    time.sleep(0.02)
                version = store.redis_version()
                while time.monotonic() < deadline:
                    report = ask(f"report {version}")
                    if report["count"] >= connected:
                        break
                    time.sleep(0.1)
                missing += connected - report["count"]
                e2e += [t - t0 for t in report["times"]]
                after_build += [t - version / 1e6 for t in report["times"]]
                time.sleep(1)
            print(
                f"{connected:>8} {per_1k:>12.1f} {percentile(e2e, 50) * 1000:>8.0f} {percentile(e2e, 99) * 1000:>8.0f}"
                f" {max(e2e) * 1000:>8.0f} {percentile(after_build, 99) * 1000:>22.0f} {len(e2e):>7}/{connected * args.rounds}"
                + (f"  ({missing} missing)" if missing else "")
            )
            p99_ms = percentile(e2e, 99) * 1000
            result(f"public websocket fan-out, {connected:,} clients", f"p99 {p99_ms:.0f} ms, {missing} missing",
                   "p99 <= 1000 ms, none missing", p99_ms <= 1000 and not missing)  # fmt: skip
            per_socket_kb = per_1k * 1024 / 1000
            result(f"idle public websocket memory, {connected:,} clients", f"{per_socket_kb:.1f} KB per socket",
                   "<= 25 KB per socket", per_socket_kb <= 25)  # fmt: skip
        print("\np99 = the 99th percentile over all clients and rounds of (message received - update posted);")
        print("'after build start' counts from the snapshot version's timestamp (the rebuild task reading the database).")
    finally:
        clients.kill()
        worker.terminate()
        worker.wait(timeout=10)
        _portal.stop(web)
        embedded_redis.stop(redis_process)


if __name__ == "__main__":
    main()
