"""Strict parsing of settings from environment variables.

A wrong value stops start-up with a message naming the variable, instead of
running with a surprise default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off.")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum of {minimum}.")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is above the maximum of {maximum}.")
    return number


def env_list(name: str, default: Sequence[str] = ()) -> list[str]:
    value = _raw(name)
    if value is None or value == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, choices: Sequence[str], default: str) -> str:
    value = _raw(name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of: {', '.join(choices)}.")
    return value


def env_seconds(name: str, default: int) -> timedelta:
    return timedelta(seconds=env_int(name, default, minimum=0))


def env_url(name: str, schemes: Sequence[str]) -> str | None:
    value = _raw(name)
    if value is None or value == "":
        return None
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in schemes:
        raise ImproperlyConfigured(
            f"{name} must be a URL with one of the schemes {', '.join(schemes)}; got {value.split('@')[-1]!r}."
        )
    return value


def env_networks(name: str, default: Sequence[str] = ()) -> list[IPv4Network | IPv6Network]:
    """Comma-separated IP addresses or CIDR networks (`10.0.0.0/8, ::1`)."""
    networks: list[IPv4Network | IPv6Network] = []
    for item in env_list(name, default):
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an IP address or network (e.g. 10.0.0.0/8).") from None
    return networks


def env_header_value(name: str) -> tuple[str, str] | None:
    """`Header-Name=value` as Django's request.META key and the value, e.g.
    `X-Forwarded-Proto=https` gives ("HTTP_X_FORWARDED_PROTO", "https")."""
    value = _raw(name)
    if value is None or value == "":
        return None
    header, sep, expected = value.partition("=")
    header, expected = header.strip(), expected.strip()
    if not sep or not expected or not re.fullmatch(r"[A-Za-z0-9-]+", header):
        raise ImproperlyConfigured(f"{name}={value!r} is not of the form Header-Name=value (e.g. X-Forwarded-Proto=https).")
    return "HTTP_" + header.upper().replace("-", "_"), expected
def served_url(host: str, port: int) -> str:
    """The base URL of a server listening on host:port (a wildcard address is
    reached on this machine as 127.0.0.1 or [::1])."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
