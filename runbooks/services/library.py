"""The runbook library: save a runbook with its steps, import Markdown, clusters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from incidents.models import Service
from portal.errors import ValidationFailed
from portal.markdown import render_markdown
from portal.text import clean_text
from runbooks.actions import get_action, validate_parameters
from runbooks.importer import ParsedRunbook, parse_markdown
from runbooks.models import AuditEntry, Cluster, DueFrom, HttpEndpoint, Runbook, Step, StepKind

MAX_STEPS = 200
_LABEL = re.compile(r"^[A-Za-z0-9_:.\-]{1,200}$")


@dataclass
class StepInput:
    title: str
    kind: str = StepKind.MANUAL
    instructions: str = ""
    command: str = ""
    action: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    requires_approval: bool = False
    dangerous: bool = False
    continue_on_failure: bool = False
    timeout_seconds: int = 300
    due_minutes: int | None = None  # a checklist item's target, manual steps only
    due_from: str = DueFrom.START


MAX_DUE_MINUTES = 60 * 24 * 30


def _labels(values: Iterable[Any], name: str, *, limit: int = 50) -> list[str]:
    out: list[str] = []
    for value in values:
        text = clean_text(value, max_length=200)
        if not text:
            continue
        if not _LABEL.match(text):
            raise ValidationFailed(f"{text!r} is not a valid {name}.", fields={name: ["Letters, digits, _ : . - only."]})
        if text not in out:
            out.append(text)
    if len(out) > limit:
        raise ValidationFailed(f"Too many {name}.", fields={name: [f"At most {limit}."]})
    return out


def _clean_step(index: int, step: StepInput) -> Step:
    where = f"steps.{index}"
    title = clean_text(step.title, max_length=200)
    if not title:
        raise ValidationFailed("Every step needs a title.", fields={f"{where}.title": ["This field is required."]})
    if step.kind not in StepKind.values:
        raise ValidationFailed("Unknown step kind.", fields={f"{where}.kind": [f"Choose one of {StepKind.values}."]})
    if not 1 <= int(step.timeout_seconds) <= 3600:
        raise ValidationFailed("Timeout out of range.", fields={f"{where}.timeout_seconds": ["Between 1 and 3600 seconds."]})
    action_name, parameters = "", {}
    if step.kind == StepKind.AUTOMATED:
        action = get_action(step.action)
        if action is None:
            raise ValidationFailed("Unknown action.", fields={f"{where}.action": [f"{step.action!r} is not an action."]})
        try:
            parameters = validate_parameters(action, step.parameters)
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, fields={f"{where}.{k}": v for k, v in exc.fields.items()}) from exc
        action_name = action.name
    elif step.action or step.parameters:
        raise ValidationFailed("A manual step has no action.", fields={f"{where}.action": ["Only automated steps run actions."]})
    try:
        due_minutes = None if step.due_minutes in (None, "") else int(step.due_minutes)
    except (TypeError, ValueError):
        raise ValidationFailed("Target time must be whole minutes.", fields={f"{where}.due_minutes": ["A whole number."]}) from None
    if due_minutes is not None:
        if step.kind != StepKind.MANUAL:
            raise ValidationFailed("Only manual steps have a target time.", fields={f"{where}.due_minutes": ["Manual steps only."]})
        if not 0 <= due_minutes <= MAX_DUE_MINUTES:
            raise ValidationFailed("Target time out of range.", fields={f"{where}.due_minutes": ["Between 0 and 43200 minutes."]})
    if step.due_from not in DueFrom.values:
        raise ValidationFailed("Unknown target reference.", fields={f"{where}.due_from": [f"Choose one of {DueFrom.values}."]})
    return Step(
        order=index + 1, kind=step.kind, title=title,
        instructions=clean_text(step.instructions, max_length=20_000, multiline=True),
        command=clean_text(step.command, max_length=20_000, multiline=True),
        action=action_name, parameters=parameters, requires_approval=bool(step.requires_approval),
        dangerous=bool(step.dangerous), continue_on_failure=bool(step.continue_on_failure),
        timeout_seconds=int(step.timeout_seconds), due_minutes=due_minutes, due_from=step.due_from,
    )  # fmt: skip


@transaction.atomic
def runbook_save(
    *,
    title: str,
    steps: Sequence[StepInput],
    by: Any,
    description: str = "",
    services: Iterable[Service] = (),
    tags: Iterable[str] = (),
    alert_names: Iterable[str] = (),
    runbook: Runbook | None = None,
) -> Runbook:
    """Create a runbook, or replace an existing one's fields and steps. Runs already
    started keep their own copy of the steps."""
    title = clean_text(title, max_length=200)
    if not title:
        raise ValidationFailed("A runbook needs a title.", fields={"title": ["This field is required."]})
    if len(steps) > MAX_STEPS:
        raise ValidationFailed("Too many steps.", fields={"steps": [f"At most {MAX_STEPS}."]})
    cleaned = [_clean_step(i, s) for i, s in enumerate(steps)]
    description = clean_text(description, max_length=20_000, multiline=True)
    fields = {"title": title, "description": description, "description_html": render_markdown(description),
              "tags": _labels(tags, "tags"), "alert_names": _labels(alert_names, "alert_names")}  # fmt: skip
    if runbook is None:
        runbook = Runbook.objects.create(created_by=by if getattr(by, "is_authenticated", False) else None, **fields)
        action = "runbook.created"
    else:
        runbook = Runbook.objects.select_for_update().get(pk=runbook.pk)
        for name, value in fields.items():
            setattr(runbook, name, value)
        runbook.save()
        runbook.steps.all().delete()
        action = "runbook.updated"
    for step in cleaned:
        step.runbook = runbook
    Step.objects.bulk_create(cleaned)
    runbook.services.set(list(services))
    AuditEntry.objects.create(actor=_actor(by), action=action, runbook=runbook,
                              parameters={"title": title, "steps": len(cleaned)})  # fmt: skip
    return runbook


@transaction.atomic
def runbook_delete(*, runbook: Runbook, by: Any) -> None:
    from runbooks.models import Run

    if Run.objects.filter(runbook=runbook).exists():
        from portal.errors import Conflict

        raise Conflict("This runbook has runs; their record keeps it.")
    AuditEntry.objects.create(actor=_actor(by), action="runbook.deleted", parameters={"id": runbook.pk, "title": runbook.title})
    runbook.delete()


def _actor(by: Any) -> Any:
    return by if getattr(by, "is_authenticated", False) else None


def _inputs(parsed: ParsedRunbook) -> list[StepInput]:
    return [
        StepInput(title=s.title, kind=s.kind, instructions=s.instructions, command=s.command, action=s.action,
                  parameters=s.parameters, requires_approval=s.requires_approval, dangerous=s.dangerous)
        for s in parsed.steps
    ]  # fmt: skip


def import_preview(text: str) -> dict[str, Any]:
    """What an import would create, without saving: runbooks, steps, and what was not
    found (service slugs)."""
    parsed = parse_markdown(text)
    known = set(Service.objects.filter(slug__in={s for rb in parsed for s in rb.services}).values_list("slug", flat=True))
    runbooks = []
    for rb in parsed:
        item = rb.as_dict()
        item["unknown_services"] = [s for s in rb.services if s not in known]
        item["automated"] = sum(1 for s in rb.steps if s.kind == StepKind.AUTOMATED)
        item["manual"] = len(rb.steps) - item["automated"]
        runbooks.append(item)
    return {"runbooks": runbooks}


@transaction.atomic
def runbook_import(*, text: str, by: Any) -> list[Runbook]:
    """Save every runbook the document holds. Parameters are validated as for any
    other runbook; services named but not in the catalogue are left out."""
    text = clean_text(text, multiline=True)
    if not text.strip():
        raise ValidationFailed("Nothing to import.", fields={"markdown": ["Paste or upload a Markdown runbook."]})
    parsed = parse_markdown(text)
    if not parsed:
        raise ValidationFailed("No steps found.", fields={"markdown": ["No numbered list or code block was found."]})
    created = []
    for rb in parsed:
        services = list(Service.objects.filter(slug__in=rb.services))
        created.append(runbook_save(title=rb.title, description=rb.description, steps=_inputs(rb), by=by, services=services,
                                    tags=[t for t in rb.tags if _LABEL.match(t)],
                                    alert_names=[a for a in rb.alert_names if _LABEL.match(a)]))  # fmt: skip
    return created


@transaction.atomic
def cluster_save(*, name: str, namespaces: Iterable[str], by: Any, context: str = "", in_cluster: bool = False) -> Cluster:
    ns = [clean_text(n, max_length=63) for n in namespaces]
    bad = [n for n in ns if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", n)]
    if bad:
        raise ValidationFailed("Invalid namespace.", fields={"namespaces": [f"{b!r} is not a namespace name." for b in bad]})
    if not in_cluster and not context:
        raise ValidationFailed("Name a kubeconfig context or use in-cluster credentials.", fields={"context": ["Required."]})
    cluster, _ = Cluster.objects.update_or_create(
        name=name, defaults={"context": "" if in_cluster else clean_text(context, max_length=200), "in_cluster": in_cluster, "namespaces": ns}
    )
    AuditEntry.objects.create(actor=_actor(by), action="cluster.saved", parameters={"name": name, "namespaces": ns})
    return cluster


@transaction.atomic
def endpoint_save(*, name: str, url: str, by: Any, headers: dict[str, str] | None = None, timeout_seconds: int = 10) -> HttpEndpoint:
    """An endpoint the `http.request` action may call. The URL's scheme and literal
    address are checked now; a host name is checked when it is resolved, at connect."""
    from incidents.notify import netguard

    url = clean_text(url, max_length=500)
    try:
        netguard.check_url(url)
    except netguard.RefusedAddress as exc:
        raise ValidationFailed(str(exc), fields={"url": [str(exc)]}) from exc
    if not 1 <= int(timeout_seconds) <= 120:
        raise ValidationFailed("Timeout out of range.", fields={"timeout_seconds": ["Between 1 and 120 seconds."]})
    clean_headers = {clean_text(k, max_length=200): clean_text(v, max_length=4096) for k, v in (headers or {}).items()}
    if any(not re.fullmatch(r"[A-Za-z0-9-]{1,200}", k) for k in clean_headers):
        raise ValidationFailed("Invalid header name.", fields={"headers": ["Letters, digits and - only."]})
    endpoint, _ = HttpEndpoint.objects.update_or_create(
        name=name, defaults={"url": url, "headers": clean_headers, "timeout_seconds": int(timeout_seconds)}
    )
    AuditEntry.objects.create(actor=_actor(by), action="endpoint.saved", parameters={"name": name, "url": url, "headers": sorted(clean_headers)})
    return endpoint
