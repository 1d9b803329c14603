"""Redis: PING, and the replication role. [CONNECTED], [ROLE], [RESPONSE_TIME].
An `expected_role` in the target becomes a default condition."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from health import net
from health.probes._common import need_host_port, optional_bool

PLACEHOLDERS = {"CONNECTED", "ROLE", "RESPONSE_TIME", "IP"}
SECRET_KEYS = ("username", "password")


def DEFAULT_CONDITIONS(target: dict[str, Any]) -> list[str]:  # noqa: N802
    conditions = ["[CONNECTED] == true"]
    if target.get("expected_role"):
        conditions.append(f"[ROLE] == {target['expected_role']}")
    return conditions


def validate(target: dict[str, Any], credentials: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    need_host_port(target, errors, default_port=6379)
    db = target.get("db", 0)
    if isinstance(db, bool) or not isinstance(db, int) or not 0 <= db <= 1024:
        errors["target.db"] = ["A database number."]
    optional_bool(target, "tls", errors)
    if target.get("expected_role") not in (None, "master", "slave", "replica"):
        errors["target.expected_role"] = ["master or slave."]
    for key in SECRET_KEYS:
        if not isinstance(credentials.get(key, ""), str):
            errors[f"credentials.{key}"] = ["A string."]
    return errors


async def run(spec: Any, context: Any) -> dict[str, Any]:
    target = spec.target
    port = int(target.get("port", 6379))
    address = (await net.resolve(target["host"], port))[0][1]
    kwargs: dict[str, Any] = {}
    if target.get("tls"):
        kwargs = {"ssl": True, "ssl_check_hostname": not net.is_ip(target["host"])}
    client = aioredis.Redis(
        host=address,
        port=port,
        db=int(target.get("db", 0)),
        username=spec.credentials.get("username") or None,
        password=spec.credentials.get("password") or None,
        socket_timeout=spec.timeout,
        socket_connect_timeout=spec.timeout,
        **kwargs,
    )
    try:
        await client.ping()
        info = await client.info("replication")
    finally:
        await client.aclose()
    return {"CONNECTED": True, "ROLE": info.get("role", ""), "IP": address}
