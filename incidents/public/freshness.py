"""How old the status snapshot this process serves is: for readiness, the logs and
the page (which shows its own build time and flags it when old).

The snapshot's version is the time its build started, and the rebuild publishes
a new version at least every minute while it works (`rebuild.REFRESH_SECONDS`),
so the age of the served snapshot is the time since the page was last known to
be true. A rebuild that keeps failing, a worker or beat that is down, or a web
process that cannot reach Redis all show up here as a growing age.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from incidents.public import store
from incidents.public.snapshot import built_at

log = logging.getLogger(__name__)

WARN_EVERY = 60.0  # seconds between two staleness warnings of one process

_started = time.time()
_warned_at = 0.0
_warn_lock = threading.Lock()


@dataclass(frozen=True)
class Freshness:
    version: int | None
    age_seconds: float | None
    stale_after: int  # 0: never stale
    uptime: float
    failed: tuple[str, ...] = ()  # documents served from an earlier build (logged at each rebuild)

    @property
    def state(self) -> str:
        if self.age_seconds is None:
            # A fresh install before its first rebuild is not an incident; a
            # process that has had no snapshot for longer than the limit is.
            return "missing" if self.stale_after and self.uptime > self.stale_after else "not built yet"
        return "stale" if self.stale_after and self.age_seconds > self.stale_after else "ok"

    @property
    def ok(self) -> bool:
        return self.state in ("ok", "not built yet")

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "version": self.version,
            "built_at": built_at(self.version).isoformat(timespec="seconds") if self.version else None,
            "age_seconds": round(self.age_seconds) if self.age_seconds is not None else None,
            "stale_after_seconds": self.stale_after,
            "failed_documents": list(self.failed),
        }


def snapshot_freshness(*, now: float | None = None) -> Freshness:
    """The age of this process's snapshot; logs a warning (at most once a minute)
    while it is stale or missing."""
    now = time.time() if now is None else now
    snap = store.current()
    result = Freshness(
        version=snap.version if snap is not None else None,
        age_seconds=snap.age(now) if snap is not None else None,
        stale_after=settings.PUBLIC_SNAPSHOT_STALE_SECONDS,
        uptime=now - _started,
        failed=snap.failed if snap is not None else (),
    )
    if not result.ok:
        _warn(result, now)
    return result


def _warn(result: Freshness, now: float) -> None:
    global _warned_at
    with _warn_lock:
        if now - _warned_at < WARN_EVERY:
            return
        _warned_at = now
    if result.state == "missing":
        log.warning("no status snapshot after %.0fs: the public page cannot be served (is the worker running?)", result.uptime)
    else:
        log.warning(
            "the status snapshot is stale: built %.0fs ago (limit %ss); the public page shows old information",
            result.age_seconds,
            result.stale_after,
        )


def reset_warnings() -> None:
    """Forget when the last warning was logged (tests)."""
    global _warned_at
    _warned_at = 0.0
