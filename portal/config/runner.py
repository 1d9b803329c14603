"""Validate a configuration document whole, plan it per object and field, and
apply it in one transaction.

- Structure is checked against the published JSON Schema first; every error is
  listed with its path (`integrations[2].severity_mapping.map.critical: ...`).
- Then every item is written, in section order (severities before the
  integrations that map to them, groups and teams before services), inside one
  transaction with a savepoint per item, so that the errors of all items are
  found in one pass; a dry run, or any error, rolls everything back.
- The plan compares each item, with its defaults, to the exported current row:
  an object unchanged is not written, so applying the same document twice
  changes nothing the second time.
- `prune` deletes the objects of a section the document lists but does not name
  (a section may keep some, see `prunable` in sections.py); a section the
  document leaves out is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import jsonschema
import yaml
from django.db import transaction
from django.utils.module_loading import import_string

from portal.config.sections import Change, ItemError, Section
from portal.errors import DomainError

VERSION = 1
MAX_DOCUMENT = 2 * 1024 * 1024

SECTION_PATHS = [
    "incidents.config.SEVERITIES",
    "portal.config.teams.TEAMS",
    "portal.config.people.PEOPLE",
    "incidents.config.SERVICE_GROUPS",
    "incidents.config.SERVICES",
    "incidents.config.MESSAGE_TEMPLATES",
    "incidents.config_postmortems.POSTMORTEM_TEMPLATES",
    "incidents.config_maintenance.MAINTENANCE",
    "incidents.integrations.config.INTEGRATIONS",
]


def sections() -> list[Section]:
    return [import_string(path) for path in SECTION_PATHS]


def schema() -> dict[str, Any]:
    """The JSON Schema of the document, published for editors."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://incident-portal.invalid/schemas/config-v1.json",
        "title": "Incident portal configuration",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "version": {"const": VERSION, "description": "The document format's version."},
            **{s.name: {"type": "array", "items": s.item_schema} for s in sections()},
        },
    }


class DocumentInvalid(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass
class Result:
    changes: list[Change] = field(default_factory=list)
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        counts = {a: sum(c.action == a for c in self.changes) for a in ("create", "update", "delete")}
        return {"applied": self.applied, "summary": counts, "changes": [c.as_dict() for c in self.changes]}


def path_of(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _timestamps_as_text(value: Any) -> Any:
    """YAML reads an unquoted `2026-12-01T02:00:00Z` as a datetime; the document's
    times are ISO 8601 text, as JSON has them."""
    if isinstance(value, dict):
        return {k: _timestamps_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_timestamps_as_text(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def load(text: str | bytes) -> Any:
    if len(text) > MAX_DOCUMENT:
        raise DocumentInvalid([f"(document): larger than {MAX_DOCUMENT // 1024} KB"])
    try:
        return _timestamps_as_text(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise DocumentInvalid([f"(document): not YAML or JSON: {exc}"]) from None


def check_structure(document: Any) -> None:
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise DocumentInvalid([f"{path_of(e.absolute_path)}: {e.message}" for e in errors])
    keys: list[str] = []
    for section in sections():
        seen: dict[str, int] = {}
        for index, item in enumerate(document.get(section.name) or []):
            name = str(item[section.key])
            if name in seen:
                keys.append(f"{section.name}[{index}].{section.key}: {name!r} is also {section.name}[{seen[name]}]")
            seen.setdefault(name, index)
    if keys:
        raise DocumentInvalid(keys)


def _diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    names = sorted(set(before or {}) | set(after or {}))
    return {
        n: {"from": (before or {}).get(n), "to": (after or {}).get(n)}
        for n in names
        if (before or {}).get(n) != (after or {}).get(n)
    }


def _errors_of(exc: Exception, where: str) -> list[str]:
    if isinstance(exc, ItemError):
        joint = "" if not exc.where or exc.where.startswith("[") else "."
        return [f"{where}{joint}{exc.where}: {exc.message}"]
    if isinstance(exc, DomainError) and exc.fields:
        return [f"{where}.{name}: {message}" for name, messages in exc.fields.items() for message in messages]
    if isinstance(exc, DomainError):
        return [f"{where}: {exc.message}"]
    raise exc


def run(document: Any, *, dry_run: bool, prune: bool = False, by: Any = None) -> Result:
    """Plan, and unless `dry_run`, apply. DocumentInvalid lists every error; nothing
    is applied then."""
    if document is None:
        document = {}
    check_structure(document)
    result = Result()
    errors: list[str] = []
    with transaction.atomic():
        prunes: list[tuple[Section, str, dict[str, Any]]] = []
        for section in sections():
            if section.name not in document:
                continue
            items = document.get(section.name) or []
            exported = section.export()
            # What an item is compared with: the export, or, where a section keeps
            # rows it does not export (a completed maintenance), `known()`.
            known = getattr(section, "known", None)
            current = {str(row[section.key]): row for row in (known() if known is not None else exported)}
            for index, item in enumerate(items):
                where = f"{section.name}[{index}]"
                key = str(item[section.key])
                try:
                    with transaction.atomic():
                        desired = section.normalise(item)
                        before = current.get(key)
                        fields = _diff(before, desired)
                        if fields:
                            section.write(item, by=by)
                            result.changes.append(Change(section.name, key, "update" if before else "create", fields))
                except (ItemError, DomainError) as exc:
                    errors += _errors_of(exc, where)
            finish = getattr(section, "finish", None)
            if finish is not None:
                try:
                    with transaction.atomic():
                        finish(items, by=by)
                except (ItemError, DomainError) as exc:
                    errors += _errors_of(exc, section.name)
            if prune:
                named = {str(item[section.key]) for item in items}
                prunable = getattr(section, "prunable", None)
                prunes += [
                    (section, str(row[section.key]), row)
                    for row in exported
                    if str(row[section.key]) not in named and (prunable is None or prunable(row))
                ]
        for section, key, row in reversed(prunes):
            try:
                with transaction.atomic():
                    section.delete(key, by=by)
                    result.changes.append(Change(section.name, key, "delete", _diff(row, None)))
            except (ItemError, DomainError) as exc:
                errors += _errors_of(exc, f"{section.name}.{key} (pruned)")
        for section in sections():
            settle = getattr(section, "settle", None)
            if settle is not None and section.name in document:
                errors += settle()
        if errors:
            transaction.set_rollback(True)
            raise DocumentInvalid(errors)
        if dry_run:
            transaction.set_rollback(True)
        else:
            result.applied = True
    return result


def export() -> dict[str, Any]:
    return {"version": VERSION, **{s.name: s.export() for s in sections()}}


def dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)
