"""What every action is: a name, a JSON Schema for its parameters, and a function.

There is no shell and no free-form command anywhere: an automated step is one of
these actions with parameters that validate against its schema.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from portal.errors import ValidationFailed

TEMPLATE = re.compile(r"\{\{\s*([a-z_]+(?:\.[A-Za-z0-9_.\-/]+)?)\s*\}\}")
# Validating a templated value before the run fills it in: a stand-in that passes
# every pattern a name or namespace has.
_TEMPLATE_STAND_IN = "templated"


@dataclass
class ActionContext:
    """What an action needs besides its parameters."""

    cluster: Any = None  # runbooks.models.Cluster
    namespace: str = ""  # the run's default namespace
    dry_run: bool = False
    idempotency_key: str = ""
    timeout_seconds: int = 300
    incident_id: int | None = None  # None for a drill
    run_id: int | None = None
    by: Any = None  # the person the action acts for (who approved it, or who started the run)


@dataclass
class ActionResult:
    ok: bool
    output: str = ""
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)


class ActionError(Exception):
    """The action ran and failed in a way worth telling the person (not a bug)."""


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    schema: dict[str, Any]
    execute: Callable[[ActionContext, dict[str, Any]], ActionResult]
    mutating: bool = True  # read-only actions (status, pods, logs) change nothing
    kubernetes: bool = True
    summary: Callable[[dict[str, Any]], str] = lambda params: ""


def validate_parameters(action: Action, parameters: Any, *, allow_templates: bool = True) -> dict[str, Any]:
    """The parameters if they satisfy the action's schema; ValidationFailed naming the field otherwise."""
    if not isinstance(parameters, Mapping):
        raise ValidationFailed("Parameters must be an object.", fields={"parameters": ["Expected an object."]})
    probe = _stand_in(dict(parameters)) if allow_templates else dict(parameters)
    validator = jsonschema.Draft202012Validator(action.schema)
    errors = sorted(validator.iter_errors(probe), key=lambda e: list(e.absolute_path))
    if errors:
        fields: dict[str, list[str]] = {}
        for error in errors:
            where = ".".join(str(p) for p in error.absolute_path)
            key = f"parameters.{where}" if where else "parameters"
            fields.setdefault(key, []).append(error.message)
        raise ValidationFailed(f"The parameters of {action.name} are not valid.", fields=fields)
    return dict(parameters)


def _stand_in(value: Any) -> Any:
    if isinstance(value, str) and TEMPLATE.search(value):
        return _TEMPLATE_STAND_IN
    if isinstance(value, dict):
        return {k: _stand_in(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stand_in(v) for v in value]
    return value


def render_parameters(parameters: Any, context: Mapping[str, Any]) -> Any:
    """Fill `{{ service }}`, `{{ namespace }}`, `{{ labels.app }}` ... from the run's
    context. An unknown name is an error, never an empty string that could widen a
    selector or pick a default."""
    if isinstance(parameters, str):
        def fill(match: re.Match[str]) -> str:
            value: Any = context
            for part in match.group(1).split("."):
                if not isinstance(value, Mapping) or part not in value:
                    raise ValidationFailed(
                        f"Nothing to fill {{{{ {match.group(1)} }}}} with.",
                        fields={"parameters": [f"{match.group(1)} is not known for this run."]},
                    )
                value = value[part]
            return str(value)

        return TEMPLATE.sub(fill, parameters)
    if isinstance(parameters, dict):
        return {k: render_parameters(v, context) for k, v in parameters.items()}
    if isinstance(parameters, list):
        return [render_parameters(v, context) for v in parameters]
    return parameters
