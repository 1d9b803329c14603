"""TCP connect: [CONNECTED], [RESPONSE_TIME] (time to connect), [IP]."""

from __future__ import annotations

from typing import Any

from health import net
from health.probes._common import need_host_port

PLACEHOLDERS = {"CONNECTED", "RESPONSE_TIME", "IP"}
DEFAULT_CONDITIONS = ["[CONNECTED] == true"]
SECRET_KEYS: tuple[str, ...] = ()


def validate(target: dict[str, Any], credentials: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    need_host_port(target, errors)
    return errors


async def run(spec: Any, context: Any) -> dict[str, Any]:
    _reader, writer, address = await net.open_connection(spec.target["host"], int(spec.target["port"]))
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return {"CONNECTED": True, "IP": address}
