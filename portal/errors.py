"""Domain errors raised by services; the API maps them onto its one error shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra


class ValidationFailed(DomainError):
    status_code = 400
    code = "validation_failed"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"

    def __init__(self, message: str, *, current: str, requested: str, allowed: Sequence[str]) -> None:
        super().__init__(message, current=current, requested=requested, allowed=list(allowed))


class NotAllowed(DomainError):
    status_code = 403
    code = "permission_denied"
