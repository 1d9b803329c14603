"""The probe editor: plain fields that become the keyword arguments of the services."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from health.models import OnRecovery, Policy, ProbeKind
from incidents.models import Service, Severity


def _json_object(text: str, label: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise forms.ValidationError(f"{label} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise forms.ValidationError(f"{label} must be a JSON object.")
    return value


class ProbeForm(forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.order_by("name"), to_field_name="slug")
    name = forms.CharField(max_length=120)
    kind = forms.ChoiceField(choices=ProbeKind.choices)
    target = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "class": "mono"}), required=False,
                             help_text='JSON, e.g. {"url": "https://api.example.com/health/ready"}')
    credentials = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "class": "mono", "autocomplete": "off"}), required=False,
                                  help_text='JSON, e.g. {"password": "..."}. Never shown again; leave empty to keep what is stored.')
    conditions = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "class": "mono"}), required=False,
                                 help_text='One per line: [STATUS] == 200, [BODY].status == "healthy", degraded: [RESPONSE_TIME] < 300')
    interval_seconds = forms.IntegerField(initial=60, label="Interval (s)")
    timeout_seconds = forms.FloatField(initial=10, label="Timeout (s)")
    failure_threshold = forms.IntegerField(initial=3)
    success_threshold = forms.IntegerField(initial=2)
    locations = forms.CharField(initial="local", help_text="Location names, comma-separated.")
    quorum = forms.IntegerField(initial=1)
    policy = forms.ChoiceField(choices=Policy.choices)
    severity = forms.ModelChoiceField(queryset=Severity.objects.all(), to_field_name="name", required=False)
    on_recovery = forms.ChoiceField(choices=OnRecovery.choices)
    enabled = forms.BooleanField(required=False, initial=True)

    def clean_target(self) -> dict[str, Any]:
        return _json_object(self.cleaned_data["target"], "The target")

    def clean_credentials(self) -> dict[str, Any]:
        return _json_object(self.cleaned_data["credentials"], "The credentials")

    def clean_conditions(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["conditions"].splitlines() if line.strip()]

    def clean_locations(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["locations"].split(",") if name.strip()]

    def service_kwargs(self, *, editing: bool) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if editing and not data["credentials"]:
            data.pop("credentials")
        return data

    def add_service_errors(self, fields: dict[str, list[str]]) -> None:
        for name, errors in fields.items():
            field = name.split(".", 1)[0]
            for error in errors:
                self.add_error(field if field in self.fields else None, f"{name}: {error}" if "." in name else error)
