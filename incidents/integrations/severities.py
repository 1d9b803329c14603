"""Which severity an alert opens its incident at.

An integration's `severity_mapping` refers to severities by primary key, which
survives renames (SEV1-SEV4 → P1-P4) and re-ranking; names are accepted on input
and translated once, when the mapping is saved. An alert whose value maps to
nothing opens at the integration's explicit default, or with none at the most
severe level, never the least: a page too many is recoverable, a critical alert
filed as a low one is not. The timeline says which of these happened.

    stored:  {"field": "labels.severity", "map": {"critical": 1, "warning": 3}, "default": 2}
    shown:   {"field": "labels.severity", "map": {"critical": "SEV1", "warning": "SEV3"}, "default": "SEV2"}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models.signals import pre_delete

from incidents.integrations.pipeline.registry import adapter_for
from incidents.models import Integration, Severity
from portal.errors import Conflict, ValidationFailed

FORMAT = '{"field": "labels.severity", "map": {"critical": "SEV1", "warning": "SEV3"}, "default": "SEV2"}'

# Senders' conventional values, as a position in rank order (0 = the most severe),
# so they follow the table whatever its rows are called: Alertmanager's and
# PagerDuty's severities, PagerDuty's urgencies and its default priorities P1-P5.
CONVENTIONAL = {"critical": 0, "error": 1, "high": 1, "warning": 2, "info": 3, "low": 3,
                "p1": 0, "p2": 1, "p3": 2, "p4": 3, "p5": 3}  # fmt: skip


@dataclass
class Choice:
    severity: Severity
    why: str = ""  # empty when the alert's value was mapped; else the fallback's reason


def _find(ref: Any, severities: list[Severity]) -> Severity | None:
    """A severity by primary key (as stored) or by name (as typed; exact, then ignoring case)."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return next((s for s in severities if s.pk == ref), None)
    if not isinstance(ref, str) or not ref.strip():
        return None
    name = ref.strip()
    by_name = next((s for s in severities if s.name == name), None)
    if by_name is None and name.isdigit() and len(name) < 19:
        by_name = next((s for s in severities if s.pk == int(name)), None)
    return by_name or next((s for s in severities if s.name.lower() == name.lower()), None)


def normalise_mapping(mapping: Any) -> dict[str, Any]:
    """The mapping as stored (severity primary keys), or ValidationFailed naming
    every value that refers to no severity."""
    if mapping in (None, {}):
        return {}
    problem = f"An object {FORMAT}."
    if not isinstance(mapping, dict) or not isinstance(mapping.get("map", {}), dict):
        raise ValidationFailed("The severity mapping is not valid.", fields={"severity_mapping": [problem]})
    unknown_keys = set(mapping) - {"field", "map", "default"}
    errors = [f"Unknown keys: {', '.join(sorted(map(str, unknown_keys)))}. {problem}"] if unknown_keys else []
    field = mapping.get("field")
    if field is not None and (not isinstance(field, str) or not field.strip()):
        errors.append('"field" must name a field such as "labels.severity".')
    severities = list(Severity.objects.order_by("rank"))
    table: dict[str, int] = {}
    for value, ref in (mapping.get("map") or {}).items():
        severity = _find(ref, severities)
        if severity is None:
            errors.append(f"{value!r} maps to {ref!r}, which is no severity (use a severity's name or id).")
        else:
            table[str(value)] = severity.pk
    out: dict[str, Any] = {}
    if isinstance(field, str) and field.strip():
        out["field"] = field.strip()
    out["map"] = table
    default = mapping.get("default")
    if default not in (None, ""):
        severity = _find(default, severities)
        if severity is None:
            errors.append(f"The default {default!r} is no severity (use a severity's name or id).")
        else:
            out["default"] = severity.pk
    if errors:
        raise ValidationFailed("The severity mapping refers to severities that do not exist.", fields={"severity_mapping": errors})
    return out


def mapping_for_display(mapping: Any) -> dict[str, Any]:
    """The stored mapping with today's severity names, for pages and the API."""
    if not isinstance(mapping, dict) or not mapping:
        return {}
    names = dict(Severity.objects.values_list("pk", "name"))

    def name(ref: Any) -> Any:
        return names.get(ref, ref) if isinstance(ref, int) else ref

    out: dict[str, Any] = {}
    if mapping.get("field"):
        out["field"] = mapping["field"]
    out["map"] = {value: name(ref) for value, ref in (mapping.get("map") or {}).items()}
    if mapping.get("default") is not None:
        out["default"] = name(mapping["default"])
    return out


def mapped_field(integration: Integration) -> str:
    mapping = integration.severity_mapping or {}
    return str(mapping.get("field") or adapter_for(integration.kind).default_severity_field)


def severity_for(integration: Integration, value: str) -> Choice:
    """The severity for an alert whose mapped field holds `value`."""
    severities = list(Severity.objects.order_by("rank"))
    if not severities:
        raise RuntimeError("No severity is defined: alerts cannot declare incidents until one exists.")
    mapping = integration.severity_mapping if isinstance(integration.severity_mapping, dict) else {}
    table = mapping.get("map") or {}
    field = mapped_field(integration)
    if value in table:
        mapped = _find(table[value], severities)
        if mapped is not None:
            return Choice(mapped)
        why = f"{field} {value!r} maps to a severity that no longer exists"
    else:
        where = "the integration's severity mapping" if table else "the conventional values (the integration has no mapping)"
        why = f"{field} {value!r} is not in {where}" if value else f"the alert has no {field}"
    default = _find(mapping.get("default"), severities) if mapping.get("default") is not None else None
    if default is not None:
        return Choice(default, f"Opened at {default.name}, the integration's default: {why}.")
    position = CONVENTIONAL.get(value.lower()) if value else None
    if position is not None:
        return Choice(severities[min(position, len(severities) - 1)])
    return Choice(
        severities[0], f"Opened at {severities[0].name}, the most severe level: {why}, and the integration has no default severity."
    )


def integrations_using(severity: Severity) -> list[Integration]:
    """Integrations whose mapping names the severity (a short table, read whole)."""
    using = []
    for integration in Integration.objects.order_by("name"):
        mapping = integration.severity_mapping if isinstance(integration.severity_mapping, dict) else {}
        refs = list((mapping.get("map") or {}).values()) + [mapping.get("default")]
        if severity.pk in refs or severity.name in refs:
            using.append(integration)
    return using


def refuse_deleting_a_mapped_severity(sender: type[Severity], instance: Severity, **kwargs: Any) -> None:
    """Every way of deleting a severity (API, admin, shell) meets this: a mapping
    that names it would otherwise send its alerts to the fallback."""
    using = integrations_using(instance)
    if using:
        names = ", ".join(integration.name for integration in using)
        raise Conflict(
            f"Severity {instance.name} is used by the severity mapping of: {names}. Change those mappings first.",
            used_by={"integrations": [integration.pk for integration in using]},
        )


def connect() -> None:
    """Called from IncidentsConfig.ready(); connecting twice keeps one receiver (dispatch_uid)."""
    pre_delete.connect(refuse_deleting_a_mapped_severity, sender=Severity, dispatch_uid="severity-used-by-a-mapping")
