"""Heartbeat: a cron job or backup script calls its push URL. [HEARTBEAT] is true
while the last call came within the interval plus grace and did not report a
failure. The engine gets the heartbeat's row read beforehand (spec.extra)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

PLACEHOLDERS = {"HEARTBEAT"}
DEFAULT_CONDITIONS = ["[HEARTBEAT] == true"]
SECRET_KEYS: tuple[str, ...] = ()


def validate(target: dict[str, Any], credentials: dict[str, Any]) -> dict[str, list[str]]:
    grace = target.get("grace_seconds", 60)
    if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= 7 * 86400:
        return {"target.grace_seconds": ["Seconds of grace after the interval, at most a week."]}
    return {}


def judge(*, now: datetime, since: datetime, last_ping_at: datetime | None, last_ok: bool, interval: int, grace: int) -> tuple[bool, str]:
    deadline = (last_ping_at or since) + timedelta(seconds=interval + grace)
    if now > deadline:
        return False, "No call since " + (last_ping_at.isoformat() if last_ping_at else "the probe was created") + "."
    if last_ping_at is not None and not last_ok:
        return False, "The last call reported a failure."
    return True, "On time."


async def run(spec: Any, context: Any) -> dict[str, Any]:
    extra = spec.extra
    ok, message = judge(
        now=spec.scheduled_at,
        since=extra["since"],
        last_ping_at=extra.get("last_ping_at"),
        last_ok=extra.get("last_ok", True),
        interval=extra["interval"],
        grace=int(spec.target.get("grace_seconds", 60)),
    )
    detail = extra.get("last_message") or ""
    return {"HEARTBEAT": ok, "message": f"{message} {detail}".strip()}
