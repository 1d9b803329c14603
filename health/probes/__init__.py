"""One module per kind of probe. Each module offers:

    PLACEHOLDERS       the condition placeholders its results carry
    DEFAULT_CONDITIONS when a probe names none (may depend on the target)
    SECRET_KEYS        keys of `credentials` it reads (never shown back)
    validate(target, credentials) -> {field: [errors]}
    async run(spec, context) -> values  (raises on a failed connection or query)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any

from health.probes import dns, heartbeat, http, kubernetes, postgres, redis, tcp, tls


@dataclass
class Spec:
    """What the engine needs to run one probe once, read from the database beforehand."""

    probe_id: int
    kind: str
    target: dict[str, Any]
    credentials: dict[str, Any]
    conditions: list[str]
    timeout: float
    scheduled_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)


KINDS: dict[str, ModuleType] = {
    "http": http,
    "tcp": tcp,
    "dns": dns,
    "tls": tls,
    "postgres": postgres,
    "redis": redis,
    "kubernetes": kubernetes,
    "heartbeat": heartbeat,
}


def default_conditions(kind: str, target: dict[str, Any]) -> list[str]:
    module = KINDS[kind]
    defaults = module.DEFAULT_CONDITIONS
    return list(defaults(target) if callable(defaults) else defaults)
