"""The runbook editor's forms: the runbook's fields and one row per step, with a
typed input for each parameter of each action's schema (the page shows the inputs
of the action chosen; without JavaScript all are shown, grouped by action)."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from incidents.models import Service, Severity
from runbooks.actions import ACTIONS, Action
from runbooks.models import DueFrom, Runbook, Step, StepKind
from runbooks.services import StepInput


def words(text: str) -> list[str]:
    return [w.strip() for w in text.replace("\n", ",").split(",") if w.strip()]


class RunbookForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 5}),
                                  help_text="Markdown.")  # fmt: skip
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.order_by("name"), required=False,
                                              widget=forms.SelectMultiple(attrs={"size": 5}))  # fmt: skip
    tags = forms.CharField(required=False, max_length=2000, help_text="Separated by commas.")
    alert_names = forms.CharField(required=False, max_length=5000, help_text="The alertname labels it answers, separated by commas.")
    checklist_for = forms.ModelMultipleChoiceField(
        queryset=Severity.objects.order_by("rank"), required=False, widget=forms.CheckboxSelectMultiple,
        label="Start by itself as a response checklist", help_text="When an incident opens at one of these severities (manual steps only).",
    )  # fmt: skip

    @classmethod
    def initial_for(cls, runbook: Runbook) -> dict[str, Any]:
        return {"title": runbook.title, "description": runbook.description, "services": list(runbook.services.all()),
                "tags": ", ".join(runbook.tags), "alert_names": ", ".join(runbook.alert_names),
                "checklist_for": [c.severity for c in runbook.checklists.filter(service__isnull=True).select_related("severity")]}  # fmt: skip


def _key(action: Action, name: str) -> str:
    return f"p_{action.name.replace('.', '_')}_{name}"


def schema_properties(action: Action) -> dict[str, dict[str, Any]]:
    """Every parameter an action takes (the alternatives of a `oneOf` together)."""
    props: dict[str, dict[str, Any]] = {}
    for part in [action.schema, *action.schema.get("oneOf", [])]:
        props.update(part.get("properties", {}))
    return props


def _field(spec: dict[str, Any]) -> forms.Field:
    kind = spec.get("type")
    if "enum" in spec:
        return forms.ChoiceField(required=False, choices=[("", "—")] + [(v, v) for v in spec["enum"]])
    if kind == "integer":
        return forms.IntegerField(required=False, min_value=spec.get("minimum"), max_value=spec.get("maximum"))
    if kind == "boolean":
        return forms.BooleanField(required=False)
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
        return forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}), help_text="KEY=value, one a line.")
    if kind == "array":
        return forms.CharField(required=False, help_text="Separated by commas.")
    if isinstance(kind, list) or kind == "object":
        return forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}), help_text="JSON or text.")
    return forms.CharField(required=False, max_length=spec.get("maxLength", 5000))


def _to_form(spec: dict[str, Any], value: Any) -> Any:
    kind = spec.get("type")
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict) and isinstance(value, dict):
        return "\n".join(f"{k}={v}" for k, v in value.items())
    if kind == "array" and isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if (isinstance(kind, list) or kind == "object") and not isinstance(value, str):
        return json.dumps(value)
    return value


def _from_form(spec: dict[str, Any], value: Any) -> Any:
    kind = spec.get("type")
    if value in (None, "") or (kind == "boolean" and value is False):
        return None
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
        pairs = [line.split("=", 1) for line in str(value).splitlines() if line.strip()]
        return {k.strip(): (v[0] if v else "") for k, *v in pairs}
    if kind == "array":
        items = words(str(value))
        return [int(w) if w.lstrip("-").isdigit() and spec.get("items", {}).get("type") == "integer" else w for w in items]
    if isinstance(kind, list) or kind == "object":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class StepForm(forms.Form):
    title = forms.CharField(max_length=200, required=False)
    kind = forms.ChoiceField(choices=StepKind.choices, initial=StepKind.MANUAL)
    instructions = forms.CharField(required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 2}))
    command = forms.CharField(required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 1, "spellcheck": "false"}),
                              help_text="Shown to copy; never executed.")  # fmt: skip
    action = forms.ChoiceField(required=False, choices=[("", "—")] + [(a.name, a.label) for a in ACTIONS.values()])
    requires_approval = forms.BooleanField(required=False)
    dangerous = forms.BooleanField(required=False)
    continue_on_failure = forms.BooleanField(required=False)
    timeout_seconds = forms.IntegerField(min_value=1, max_value=3600, initial=300)
    due_minutes = forms.IntegerField(required=False, min_value=0, max_value=43_200, label="Target (minutes)")
    due_from = forms.ChoiceField(choices=DueFrom.choices, initial=DueFrom.START, label="Counted from")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parameter_groups: list[tuple[Action, list[str]]] = []
        parameters = (self.initial or {}).get("parameters") or {}
        for action in ACTIONS.values():
            names = []
            for name, spec in schema_properties(action).items():
                key = _key(action, name)
                self.fields[key] = _field(spec)
                self.fields[key].label = name.replace("_", " ")
                if self.initial.get("action") == action.name and name in parameters:
                    self.initial[key] = _to_form(spec, parameters[name])
                names.append(key)
            self.parameter_groups.append((action, names))

    def groups(self) -> list[tuple[Action, list[forms.BoundField]]]:
        return [(action, [self[name] for name in names]) for action, names in self.parameter_groups]

    def to_input(self) -> StepInput:
        data = self.cleaned_data
        parameters: dict[str, Any] = {}
        action = ACTIONS.get(data.get("action") or "")
        if data["kind"] == StepKind.AUTOMATED and action is not None:
            for name, spec in schema_properties(action).items():
                value = _from_form(spec, data.get(_key(action, name)))
                if value is not None:
                    parameters[name] = value
        automated = data["kind"] == StepKind.AUTOMATED
        return StepInput(
            title=data["title"], kind=data["kind"], instructions=data.get("instructions", ""), command=data.get("command", ""),
            action=(data.get("action") or "") if automated else "", parameters=parameters,
            requires_approval=data.get("requires_approval", False), dangerous=data.get("dangerous", False),
            continue_on_failure=data.get("continue_on_failure", False), timeout_seconds=data.get("timeout_seconds") or 300,
            due_minutes=data.get("due_minutes") if not automated else None, due_from=data.get("due_from") or DueFrom.START,
        )  # fmt: skip


StepFormSet = forms.formset_factory(StepForm, extra=1, can_order=True, can_delete=True, max_num=200, absolute_max=200)


def step_initial(step: Step) -> dict[str, Any]:
    return {"title": step.title, "kind": step.kind, "instructions": step.instructions, "command": step.command,
            "action": step.action, "parameters": step.parameters, "requires_approval": step.requires_approval,
            "dangerous": step.dangerous, "continue_on_failure": step.continue_on_failure,
            "timeout_seconds": step.timeout_seconds, "due_minutes": step.due_minutes, "due_from": step.due_from,
            "ORDER": step.order}  # fmt: skip


def steps_from(formset: Any) -> list[StepInput]:
    """The rows in the order the person gave, without removed and untouched blank rows."""
    def blank(form: Any) -> bool:  # a spare row, maybe renumbered, never filled in
        data = form.cleaned_data
        return not any(data.get(name) for name in ("title", "instructions", "command", "action"))

    return [f.to_input() for f in formset.ordered_forms if not blank(f)]
