from __future__ import annotations

from typing import Any


def need_host_port(target: dict[str, Any], errors: dict[str, list[str]], *, default_port: int | None = None) -> None:
    host = target.get("host")
    if not isinstance(host, str) or not host.strip() or len(host) > 253 or any(c in host for c in " /?#@"):
        errors.setdefault("target.host", []).append("A host name or address is required.")
    port = target.get("port", default_port)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        errors.setdefault("target.port", []).append("A port between 1 and 65535 is required.")


def optional_str(target: dict[str, Any], key: str, errors: dict[str, list[str]], *, limit: int = 200) -> None:
    value = target.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        errors.setdefault(f"target.{key}", []).append(f"A string of at most {limit} characters.")


def optional_bool(target: dict[str, Any], key: str, errors: dict[str, list[str]]) -> None:
    if key in target and not isinstance(target[key], bool):
        errors.setdefault(f"target.{key}", []).append("true or false.")
