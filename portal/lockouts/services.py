"""Writes: lifting a lock-out."""

from __future__ import annotations

import logging
from ipaddress import ip_address as parse_ip
from typing import Any

from axes.utils import reset

from portal.errors import ValidationFailed
from portal.text import has_forbidden_characters

log = logging.getLogger(__name__)


def lockout_lift(*, by: Any, username: str | None = None, ip_address: str | None = None) -> int:
    """Forget the failed sign-ins of an account or of an address, which lifts its
    lock-out. Returns how many attempt records were removed (0 when nothing was
    locked: lifting twice is harmless)."""
    if (username is None) == (ip_address is None):
        raise ValidationFailed("Name either an account or an address.")
    if ip_address is not None:
        try:
            ip_address = str(parse_ip(ip_address))
        except ValueError:
            raise ValidationFailed(
                f"{ip_address!r} is not an IP address.", fields={"ip_address": ["Not an IP address."]}
            ) from None
        removed = reset(ip=ip_address)
    else:
        assert username is not None
        if not username or len(username) > 255 or has_forbidden_characters(username):
            # No such account can exist, and PostgreSQL refuses NUL in a query.
            raise ValidationFailed("That is not a username.", fields={"username": ["Not a username."]})
        removed = reset(username=username)
    log.info(
        "lock-out lifted by %s for %s (%d attempt records)",
        getattr(by, "username", by), f"account {username!r}" if username is not None else f"address {ip_address}", removed,
    )
    return removed
