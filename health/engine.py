"""The async engine: run a batch of probes concurrently inside one worker process.

One event loop, one HTTP client session (aiohttp: a mature asyncio client with
connection pooling and a pluggable resolver, through which every name a request
connects to is resolved and checked, see health/net.py), a semaphore to bound
concurrency, a timeout per probe. The engine touches no database: the caller reads
the specs before and writes the runs after, in batches.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from health import conditions as cond
from health import net
from health.probes import KINDS, Spec, default_conditions

NO_DATA = "no_data"
MAX_VALUE_TEXT = 2000


@dataclass
class Run:
    probe_id: int
    scheduled_at: datetime
    started_at: datetime
    outcome: str
    response_time_ms: float | None
    message: str = ""
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


# Conditions are parsed on every run of every probe; a parsed condition is immutable.
_parse = functools.lru_cache(maxsize=8192)(cond.parse)


class GuardedResolver(AbstractResolver):
    """Resolves with the system resolver and refuses denied addresses, so aiohttp
    connects only to addresses that were checked."""

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        pairs = await net.resolve(host, port, family=family)
        return [
            {"hostname": host, "host": address, "port": port, "family": fam, "proto": 0, "flags": socket.AI_NUMERICHOST}
            for fam, address in pairs
        ]

    async def close(self) -> None:
        return None


class Context:
    """Shared by the probes of one batch: the HTTP session, made on first use."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def http_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(), limit=0, ttl_dns_cache=10, family=socket.AF_UNSPEC)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _storable(values: dict[str, Any]) -> dict[str, Any]:
    """The values worth keeping with a result (bodies cut short, headers left out)."""
    kept: dict[str, Any] = {}
    for key, value in values.items():
        if key == "HEADERS":
            continue
        if isinstance(value, str) and len(value) > MAX_VALUE_TEXT:
            value = value[:MAX_VALUE_TEXT] + "…"
        if isinstance(value, list):
            value = value[:50]
        kept[key] = value
    return kept


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "Timed out."
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500] if not isinstance(exc, net.Refused) else f"Refused: {text}"[:500]


async def run_one(spec: Spec, context: Context) -> Run:
    started = datetime.now(UTC)
    clock = time.perf_counter()
    module = KINDS[spec.kind]
    texts = spec.conditions or default_conditions(spec.kind, spec.target)
    conditions = [_parse(text) for text in texts]  # checked when saved
    values: dict[str, Any]
    error = ""
    try:
        values = await asyncio.wait_for(module.run(spec, context), timeout=spec.timeout)
    except Exception as exc:  # noqa: BLE001 - any failure of the target is a down result
        values = {"CONNECTED": False}
        error = _describe(exc)
    elapsed = (time.perf_counter() - clock) * 1000
    values.setdefault("RESPONSE_TIME", round(elapsed, 3))
    outcome, evaluations = cond.judge(conditions, values)
    if error:
        outcome = cond.DOWN
    message = error or str(values.pop("message", "") or "")
    if not message and outcome != cond.UP:
        failed = [e for e in evaluations if not e["ok"]]
        message = "; ".join(f"{e['condition']} (got {e['actual']!r})" for e in failed)[:500]
    return Run(
        probe_id=spec.probe_id,
        scheduled_at=spec.scheduled_at,
        started_at=started,
        outcome=outcome,
        response_time_ms=round(elapsed, 3),
        message=message[:500],
        evaluations=evaluations,
        values=_storable(values),
    )


async def self_check(target: str, timeout: float = 3.0) -> str:
    """"" when the location's own check passes, else why not."""
    if not target:
        return ""
    parts = urlsplit(target)
    try:
        if parts.scheme == "tcp":
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, parts.port), timeout)
            writer.close()
            return ""
        async with aiohttp.ClientSession(trust_env=False) as session:
            async with session.get(target, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                return "" if response.status < 400 else f"self-check answered {response.status}"
    except Exception as exc:  # noqa: BLE001
        return f"self-check failed: {_describe(exc)}"


async def run_specs(
    specs: list[Spec], *, concurrency: int = 1000, self_check_target: str = "", wait_until_due: bool = False
) -> tuple[list[Run], str]:
    """Run every spec; returns the runs and the self-check's failure ("" when healthy).
    When the self-check fails, every run is "no data": the prober, not the targets,
    is in doubt. With `wait_until_due`, a spec scheduled a little ahead (beat claims
    one tick ahead) starts at its time rather than early."""
    problem = await self_check(self_check_target)
    if problem:
        now = datetime.now(UTC)
        return [Run(s.probe_id, s.scheduled_at, now, NO_DATA, None, problem[:500]) for s in specs], problem
    context = Context()
    semaphore = asyncio.Semaphore(max(concurrency, 1))

    async def guarded(spec: Spec) -> Run:
        if wait_until_due:
            delay = (spec.scheduled_at - datetime.now(UTC)).total_seconds()
            if delay > 0:
                await asyncio.sleep(min(delay, 60.0))
        async with semaphore:
            return await run_one(spec, context)

    try:
        runs = await asyncio.gather(*(guarded(spec) for spec in specs))
    finally:
        await context.close()
    return list(runs), ""


def run_batch(
    specs: list[Spec], *, concurrency: int = 1000, self_check_target: str = "", wait_until_due: bool = False
) -> tuple[list[Run], str]:
    """From synchronous code (a Celery task, the API's run-now)."""
    return asyncio.run(
        run_specs(specs, concurrency=concurrency, self_check_target=self_check_target, wait_until_due=wait_until_due)
    )
