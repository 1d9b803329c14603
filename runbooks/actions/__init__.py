"""The actions an automated step can take, by name."""

from __future__ import annotations

from runbooks.actions.base import (
    Action,
    ActionContext,
    ActionError,
    ActionResult,
    render_parameters,
    validate_parameters,
)
from runbooks.actions.http import ACTIONS as HTTP_ACTIONS
from runbooks.actions.kubernetes import ACTIONS as KUBERNETES_ACTIONS
from runbooks.actions.kubernetes import OutcomeUnknown
from runbooks.actions.portal import ACTIONS as PORTAL_ACTIONS

ACTIONS: dict[str, Action] = {action.name: action for action in [*KUBERNETES_ACTIONS, *HTTP_ACTIONS, *PORTAL_ACTIONS]}


def get_action(name: str) -> Action | None:
    return ACTIONS.get(name)


__all__ = [
    "ACTIONS",
    "Action",
    "ActionContext",
    "ActionError",
    "ActionResult",
    "OutcomeUnknown",
    "get_action",
    "render_parameters",
    "validate_parameters",
]
