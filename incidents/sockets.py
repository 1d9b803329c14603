"""Open websockets of this process per audience, counted by the consumers.

The incident core keeps the count; the portal's `/metrics` reads it
(`health/observability.py`) as the gauge `portal_websocket_connections`. A socket
counts from its `accept()` to its disconnect; refused handshakes never count.
"""

from __future__ import annotations

from collections import Counter

DASHBOARD, INCIDENT, PUBLIC = "dashboard", "incident", "public"
AUDIENCES = (DASHBOARD, INCIDENT, PUBLIC)

_open: Counter[str] = Counter()


def opened(audience: str) -> None:
    _open[audience] += 1


def closed(audience: str) -> None:
    _open[audience] = max(0, _open[audience] - 1)


def open_sockets() -> dict[str, int]:
    """Open sockets per audience, every audience named (0 when none)."""
    return {audience: _open[audience] for audience in AUDIENCES}
