"""The address of the client behind a request, for lock-outs and throttles.

`X-Forwarded-For` is written by whoever sends the request, so it is believed only
when the connection comes from a proxy named in TRUSTED_PROXIES; then the client
is the last address in the header that is not itself a trusted proxy (each proxy
appends the address it saw, so the entries left of it are the sender's own claims).
With TRUSTED_PROXIES empty (the default) the header is never read.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

from django.conf import settings
from django.http import HttpRequest


def _parse(value: str) -> IPv4Address | IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ip_address(value)
    except ValueError:
        return None


def _trusted(address: IPv4Address | IPv6Address) -> bool:
    return any(address in network for network in settings.TRUSTED_PROXIES)


def client_address(request: HttpRequest) -> str | None:
    peer = _parse(request.META.get("REMOTE_ADDR", "") or "")
    if peer is None:
        return None
    if not settings.TRUSTED_PROXIES or not _trusted(peer):
        return str(peer)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for item in reversed(forwarded.split(",")):
        hop = _parse(item)
        if hop is None:
            # A garbled entry: what lies left of it cannot be trusted either.
            break
        if not _trusted(hop):
            return str(hop)
    return str(peer)
