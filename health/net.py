"""Where probes may connect: checked on the resolved address, at connect time.

Cloud metadata endpoints are always refused; `HEALTH_PROBE_DENY` adds networks
(CIDRs). Private ranges are allowed by default, since internal services are what
teams probe. Every kind resolves the name itself, checks every address, and then
connects to the checked address, so a name that resolves differently on a second
lookup (DNS rebinding) cannot reach a refused address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

from django.conf import settings

METADATA = (
    ipaddress.ip_network("169.254.169.254/32"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud's metadata service
)


class Refused(Exception):
    """The address may not be probed."""


def deny_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(value, strict=False) for value in getattr(settings, "HEALTH_PROBE_DENY", [])]


def check_address(address: str, deny: Iterable[Any] | None = None) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for network in METADATA:
        if ip in network:
            raise Refused(f"{address} is a cloud metadata address and is never probed.")
    for network in deny if deny is not None else deny_networks():
        if ip.version == network.version and ip in network:
            raise Refused(f"{address} is in the denied network {network}.")


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


async def resolve(host: str, port: int, *, family: int = socket.AF_UNSPEC) -> list[tuple[int, str]]:
    """Resolve and check: (family, address) pairs that may be connected to."""
    host = host.strip("[]")
    if is_ip(host):
        check_address(host)
        return [(socket.AF_INET6 if ":" in host else socket.AF_INET, host)]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"Cannot resolve {host}: {exc.strerror or exc}") from None
    allowed: list[tuple[int, str]] = []
    refusal: Refused | None = None
    deny = deny_networks()
    for fam, _type, _proto, _canon, sockaddr in infos:
        try:
            check_address(str(sockaddr[0]), deny)
        except Refused as exc:
            refusal = exc
            continue
        if (fam, str(sockaddr[0])) not in allowed:
            allowed.append((fam, str(sockaddr[0])))
    if not allowed:
        raise refusal or OSError(f"{host} has no address.")
    return allowed


async def open_connection(host: str, port: int, **kwargs: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
    """asyncio.open_connection to the first checked address that answers."""
    last: Exception | None = None
    for _family, address in await resolve(host, port):
        try:
            reader, writer = await asyncio.open_connection(address, port, **kwargs)
            return reader, writer, address
        except OSError as exc:
            last = exc
    raise last or OSError(f"Cannot connect to {host}:{port}.")
