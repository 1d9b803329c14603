"""The routing and severity-mapping editor of an integration's page: rows of
fields instead of JSON, checked in place, and a dry run against a sample payload.

The rows become the same `routing_rules` and `severity_mapping` the API takes,
and are saved through `integration_update`, which checks them again."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.forms import formset_factory
from django.utils import timezone

from incidents.integrations import severities
from incidents.integrations.common import PayloadInvalid
from incidents.integrations.pipeline.decide import route_for, severity_for, signals_of
from incidents.models import AlertAction, Delivery, Impact, Integration, Service, Severity
from portal.errors import ValidationFailed
from portal.parsers import load_json

IMPACTS = [(value, label) for value, label in Impact.choices if value not in (Impact.OPERATIONAL, Impact.UNDER_MAINTENANCE)]
MAX_SAMPLE = 256 * 1024


def _severities() -> Any:
    return Severity.objects.order_by("rank")


class SeverityChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.name


class RuleRow(forms.Form):
    """One routing rule: when a field of the alert equals a value, where it goes."""

    field = forms.CharField(max_length=200, required=False, label="When field",
                            widget=forms.TextInput(attrs={"placeholder": "labels.team", "list": "alert-fields"}))
    value = forms.CharField(max_length=500, required=False, label="equals",
                            widget=forms.TextInput(attrs={"placeholder": "billing, or ~regex"}))
    # Conditions beyond the first, for rules written through the API: kept as they are.
    more = forms.CharField(required=False, widget=forms.HiddenInput)
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.order_by("name"), to_field_name="slug", required=False,
                                              label="Services", widget=forms.SelectMultiple(attrs={"size": 3}))
    impact = forms.ChoiceField(choices=IMPACTS, initial=Impact.PARTIAL_OUTAGE, label="Impact")
    action = forms.ChoiceField(choices=[("", "The integration's default"), *AlertAction.choices], required=False, label="Then")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        field, value = (data.get("field") or "").strip(), data.get("value") or ""
        if value and not field:
            self.add_error("field", "Name the field to compare, e.g. labels.team.")
        if field and not value:
            self.add_error("value", "Give the value to match (prefix ~ for a regular expression).")
        if value.startswith("~"):
            try:
                re.compile(value[1:])
            except re.error as exc:
                self.add_error("value", f"Not a valid regular expression: {exc}.")
        try:
            more = json.loads(data.get("more") or "{}")
        except ValueError:
            more = None
        if not isinstance(more, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in more.items()):
            self.add_error(None, "The other conditions of this rule are not valid.")
            more = {}
        data["more"] = more
        data["field"] = field
        return data

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not (data.get("field") or data.get("more") or data.get("services") or data.get("action"))

    def rule(self) -> dict[str, Any]:
        data = self.cleaned_data
        match = {data["field"]: data["value"]} if data.get("field") else {}
        match.update(data.get("more") or {})
        rule: dict[str, Any] = {"match": match, "services": [s.slug for s in data.get("services") or []], "impact": data["impact"]}
        if data.get("action"):
            rule["action"] = data["action"]
        return rule

    @staticmethod
    def initial_of(rule: dict[str, Any]) -> dict[str, Any]:
        match = dict(rule.get("match") or {})
        first = next(iter(match), "")
        value = match.pop(first, "") if first else ""
        return {"field": first, "value": value, "more": json.dumps(match) if match else "",
                "services": list(rule.get("services") or []), "impact": rule.get("impact") or Impact.PARTIAL_OUTAGE,
                "action": rule.get("action") or ""}  # fmt: skip


class MappingRow(forms.Form):
    value = forms.CharField(max_length=200, required=False, label="Value", widget=forms.TextInput(attrs={"placeholder": "critical"}))
    severity = SeverityChoice(queryset=_severities(), required=False, empty_label="Choose…", label="Severity")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("value") and not data.get("severity"):
            self.add_error("severity", "Choose the severity for this value.")
        if data.get("severity") and not data.get("value"):
            self.add_error("value", "Give the value that maps to this severity.")
        return data


class MappingHead(forms.Form):
    field = forms.CharField(max_length=200, required=False, label="Read the severity from",
                            widget=forms.TextInput(attrs={"list": "alert-fields"}))
    default = SeverityChoice(queryset=_severities(), required=False, label="Anything else opens at",
                             empty_label="the most severe level")


RuleSet = formset_factory(RuleRow, extra=1, can_delete=True, max_num=100, validate_max=True)
MappingSet = formset_factory(MappingRow, extra=1, can_delete=True, max_num=200, validate_max=True)


class Editor:
    """The rule rows, the mapping rows and the mapping's field and default."""

    def __init__(self, integration: Integration, data: Any = None) -> None:
        self.integration = integration
        mapping = severities.mapping_for_display(integration.severity_mapping)
        rows = [{"value": v, "severity": _severities().filter(name=n).first()} for v, n in (mapping.get("map") or {}).items()]
        default = _severities().filter(name=mapping.get("default")).first() if mapping.get("default") else None
        # Initial values only for the unbound editor: bound rows equal to them would
        # count as unchanged and be skipped, as if left blank.
        bound = data is not None
        rules = None if bound else [RuleRow.initial_of(r) for r in integration.routing_rules or []]
        self.rules = RuleSet(data, prefix="rule", initial=rules)
        self.mapping = MappingSet(data, prefix="map", initial=None if bound else rows)
        self.head = MappingHead(data, prefix="mapping", initial={"field": mapping.get("field", ""), "default": default})
        self.head.fields["field"].widget.attrs["placeholder"] = severities.mapped_field(integration)
        self.errors: list[str] = []

    def is_valid(self) -> bool:
        return all([self.rules.is_valid(), self.mapping.is_valid(), self.head.is_valid()]) and not self.errors

    def config(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        rules = [row.rule() for row in self.rules.forms if row not in self.rules.deleted_forms and not row.is_blank()]
        table = {
            row.cleaned_data["value"]: row.cleaned_data["severity"].pk
            for row in self.mapping.forms
            if row not in self.mapping.deleted_forms and row.cleaned_data.get("value")
        }
        head = self.head.cleaned_data
        mapping: dict[str, Any] = {}
        if table or head.get("field") or head.get("default"):
            mapping = {"map": table}
            if head.get("field"):
                mapping["field"] = head["field"].strip()
            if head.get("default"):
                mapping["default"] = head["default"].pk
        return rules, mapping

    def refuse(self, exc: ValidationFailed) -> None:
        self.errors.append(exc.message)
        for messages in exc.fields.values():
            self.errors.extend(str(m) for m in messages)


@dataclass
class Outcome:
    title: str
    fingerprint: str
    status: str
    action: str
    services: list[str]
    impact: str
    severity: str
    why: str


def dry_run(integration: Integration, rules: list[dict[str, Any]], mapping: dict[str, Any], payload: str) -> tuple[list[Outcome], list[str]]:
    """What the integration would do with `payload` under these rules, changing
    nothing: the same parser, router and severity mapping as real deliveries."""
    if len(payload.encode()) > MAX_SAMPLE:
        return [], [f"The sample is larger than {MAX_SAMPLE // 1024} KiB."]
    trial = copy.copy(integration)
    trial.routing_rules = rules
    try:
        trial.severity_mapping = severities.normalise_mapping(mapping)
        load_json(payload)
        signals, skipped = signals_of(Delivery(integration=trial, body=payload, received_at=timezone.now()))
    except ValidationFailed as exc:
        return [], [exc.message]
    except PayloadInvalid as exc:
        return [], [f"The sample is not a valid {integration.get_kind_display()} payload: " + " ".join(exc.errors)]
    except ValueError as exc:
        return [], [f"The sample is not valid JSON: {exc}"]
    names = dict(Service.objects.values_list("slug", "name"))
    outcomes = []
    for signal in signals:
        route = route_for(trial, signal)
        choice = severity_for(trial, signal)
        outcomes.append(Outcome(
            title=signal.title, fingerprint=signal.fingerprint, status=signal.status, action=AlertAction(route.action).label,
            services=[names.get(slug, slug) for slug in route.services], impact=Impact(route.impact).label,
            severity=choice.severity.name, why=choice.why,
        ))  # fmt: skip
    return outcomes, list(skipped)
