"""HTTP load generators for the benchmarks, each run in its own process so that
the client's work never runs inside the measured server's interpreter.

`wrk` (Debian package `wrk`, written in C) is preferred: it costs the machine far
less CPU per request than a Python client. When it is not installed, an aiohttp
client runs in a separate Python process instead (aiohttp is already installed
as a dependency of the kubernetes client).

Both return the same figures: requests, seconds, non-2xx answers, socket errors,
and latency p50/p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WRK_SCRIPT = """
local paths = {%(paths)s}
local headers = {["Authorization"] = "Bearer %(token)s", ["Accept"] = "application/json"}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1], headers)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"non_2xx\\": %%d, \\"socket_errors\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d}\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def which_client(preferred: str = "auto") -> str:
    if preferred == "auto":
        return "wrk" if shutil.which("wrk") else "aiohttp"
    return preferred


def run(client: str, *, base: str, paths: list[str], token: str, connections: int, seconds: float) -> dict[str, Any]:
    if client == "wrk":
        return _run_wrk(base=base, paths=paths, token=token, connections=connections, seconds=seconds)
    return _run_aiohttp_process(base=base, paths=paths, token=token, connections=connections, seconds=seconds)


def _run_wrk(*, base: str, paths: list[str], token: str, connections: int, seconds: float) -> dict[str, Any]:
    lua_paths = ", ".join(json.dumps(p) for p in paths)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(WRK_SCRIPT % {"paths": lua_paths, "token": token})
        script = handle.name
    try:
        # One thread is plenty for 16 connections and leaves the second core to
        # the server and PostgreSQL.
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", script, base],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        Path(script).unlink(missing_ok=True)
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    raw = json.loads(line[len("RESULT ") :])
    return {
        "requests": raw["requests"],
        "seconds": raw["duration_us"] / 1e6,
        "non_2xx": raw["non_2xx"],
        "socket_errors": raw["socket_errors"],
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
    }


def _run_aiohttp_process(*, base: str, paths: list[str], token: str, connections: int, seconds: float) -> dict[str, Any]:
    spec = json.dumps({"base": base, "paths": paths, "token": token, "connections": connections, "seconds": seconds})
    out = subprocess.run([sys.executable, __file__, "--aiohttp"], input=spec, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def _aiohttp_main(spec: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    base, paths, seconds = spec["base"].rstrip("/"), spec["paths"], spec["seconds"]
    headers = {"Authorization": f"Bearer {spec['token']}", "Accept": "application/json"}
    latencies: list[float] = []
    counts = {"non_2xx": 0, "socket_errors": 0}
    connector = aiohttp.TCPConnector(limit=spec["connections"])
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession, offset: int) -> None:
        n = offset
        while time.perf_counter() < deadline:
            n += 1
            started = time.perf_counter()
            try:
                async with session.get(base + paths[n % len(paths)], headers=headers) as response:
                    await response.read()
                    if not 200 <= response.status < 300:
                        counts["non_2xx"] += 1
            except aiohttp.ClientError:
                counts["socket_errors"] += 1
                continue
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session, i * 7919) for i in range(spec["connections"])))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies) + counts["socket_errors"],
        "seconds": elapsed,
        "non_2xx": counts["non_2xx"],
        "socket_errors": counts["socket_errors"],
        "p50_ms": _percentile(latencies, 50) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--aiohttp", action="store_true", help="run the aiohttp client on a JSON spec read from stdin")
    args = parser.parse_args()
    if args.aiohttp:
        print(json.dumps(asyncio.run(_aiohttp_main(json.load(sys.stdin)))))
