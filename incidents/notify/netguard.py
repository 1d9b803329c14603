"""Outgoing HTTP that refuses cloud metadata endpoints and a configurable deny list.

The check happens at connect time: the host name is resolved once, every address
is checked, and the connection goes to the address that was checked (with the
original Host header and TLS server name). A DNS answer that changes between a
check and the connect (DNS rebinding) therefore cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services (AWS, GCP, Azure, ... on 169.254.169.254; AWS on IPv6).
ALWAYS_DENIED = (ipaddress.ip_network("169.254.169.254/32"), ipaddress.ip_network("fd00:ec2::254/128"))


class RefusedAddress(Exception):
    """The URL points somewhere the portal must never connect to (permanent)."""


class TransportError(Exception):
    """The endpoint could not be reached or did not answer (worth a retry)."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [*ALWAYS_DENIED, *(ipaddress.ip_network(n, strict=False) for n in getattr(settings, "NOTIFY_DENY_NETWORKS", []))]


def check_address(address: str) -> IPAddress:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for network in _networks():
        if ip.version == network.version and ip in network:
            raise RefusedAddress(f"Refused to connect to {ip}: the address is on the deny list.")
    return ip


def check_url(url: str) -> None:
    """Validation for forms and the API: the scheme and, for literal addresses, the deny list."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedAddress("Only http and https URLs with a host are allowed.")
    try:
        check_address(parts.hostname)
    except ValueError:
        pass  # a name: checked when it is resolved, at connect time


def resolve(host: str, port: int) -> IPAddress:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TransportError(f"Cannot resolve {host}: {exc}") from exc
    addresses = [check_address(str(info[4][0])) for info in infos]  # any denied address refuses the host
    if not addresses:
        raise TransportError(f"{host} has no address")
    return addresses[0]


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float = 10.0) -> HttpAnswer:
    return request("POST", url, body, headers, timeout=timeout)


def request(method: str, url: str, body: bytes | None, headers: dict[str, str], *, timeout: float = 10.0) -> HttpAnswer:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedAddress("Only http and https URLs with a host are allowed.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    ip = resolve(parts.hostname, port)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    host_header = parts.netloc.rsplit("@", 1)[-1]
    pool: urllib3.HTTPConnectionPool
    common: dict[str, Any] = {"timeout": urllib3.Timeout(connect=min(timeout, 5.0), read=timeout), "retries": False, "maxsize": 1}
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            str(ip), port, server_hostname=parts.hostname, assert_hostname=parts.hostname,
            cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(), **common,
        )
    else:
        pool = urllib3.HTTPConnectionPool(str(ip), port, **common)
    try:
        response = pool.urlopen(method, target, body=body, headers={**headers, "Host": host_header}, redirect=False)
        return HttpAnswer(response.status, response.data[:2000].decode("utf-8", "replace"))
    except urllib3.exceptions.HTTPError as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        pool.close()
