"""PostgreSQL: connect and run a query (default SELECT 1) in a read-only transaction.
[CONNECTED], [RESULT] (first column of the first row), [RESPONSE_TIME]."""

from __future__ import annotations

from typing import Any

import psycopg

from health import net
from health.probes._common import need_host_port, optional_str

PLACEHOLDERS = {"CONNECTED", "RESULT", "RESPONSE_TIME", "IP"}
DEFAULT_CONDITIONS = ["[CONNECTED] == true"]
SECRET_KEYS = ("password",)
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def validate(target: dict[str, Any], credentials: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    need_host_port(target, errors, default_port=5432)
    for key in ("dbname", "user"):
        optional_str(target, key, errors, limit=63)
    optional_str(target, "query", errors, limit=2000)
    if target.get("sslmode", "prefer") not in SSLMODES:
        errors["target.sslmode"] = [f"One of {', '.join(SSLMODES)}."]
    if not isinstance(credentials.get("password", ""), str):
        errors["credentials.password"] = ["A string."]
    return errors


async def run(spec: Any, context: Any) -> dict[str, Any]:
    target = spec.target
    port = int(target.get("port", 5432))
    addresses = await net.resolve(target["host"], port)
    address = addresses[0][1]
    timeout_ms = max(int(spec.timeout * 1000), 1)
    connection = await psycopg.AsyncConnection.connect(
        host=target["host"] if not net.is_ip(target["host"]) else address,
        hostaddr=address,  # the checked address: no second lookup
        port=port,
        dbname=target.get("dbname") or "postgres",
        user=target.get("user") or "postgres",
        password=spec.credentials.get("password") or None,
        sslmode=target.get("sslmode", "prefer"),
        connect_timeout=max(int(spec.timeout), 1),
        application_name="incident-portal-probe",
        options=f"-c default_transaction_read_only=on -c statement_timeout={timeout_ms}",
        autocommit=True,
    )
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(target.get("query") or "SELECT 1")
            row = await cursor.fetchone() if cursor.description else None
    finally:
        await connection.close()
    result = row[0] if row else None
    if result is not None and not isinstance(result, int | float | str | bool):
        result = str(result)
    return {"CONNECTED": True, "RESULT": result, "IP": address}
