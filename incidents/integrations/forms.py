from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms

from incidents.models import AlertAction, IntegrationKind, ResolvePolicy
from portal.parsers import load_json


class JSONText(forms.CharField):
    def __init__(self, *, empty: Any, **kwargs: Any) -> None:
        self.empty = empty
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Any:
        text = super().clean(value).strip()
        if not text:
            return self.empty
        try:
            return load_json(text)  # depth-bounded, like every JSON from outside
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None


class IntegrationForm(forms.Form):
    kind = forms.ChoiceField(choices=IntegrationKind.choices)
    name = forms.CharField(max_length=120)
    signing_secret = forms.CharField(
        max_length=256, required=False, label="Signing secret", help_text="For PagerDuty v3 webhooks: the secret PagerDuty shows for the subscription."
    )
    rate_limit_per_minute = forms.IntegerField(min_value=0, max_value=1_000_000, initial=6000, label="Rate limit (requests per minute)")
    default_action = forms.ChoiceField(choices=AlertAction.choices, initial=AlertAction.DECLARE, label="When an alert fires")
    resolve_policy = forms.ChoiceField(choices=ResolvePolicy.choices, initial=ResolvePolicy.RESOLVE, label="When every alert has resolved")
    reopen_minutes = forms.IntegerField(
        min_value=0, max_value=7 * 24 * 60, initial=30, label="Reopen window (minutes)",
        help_text="An alert that fires again this soon after resolution reopens the last incident.",
    )
    routing_rules = JSONText(empty=[], help_text='[{"match": {"labels.team": "billing"}, "services": ["api"], "impact": "major_outage"}]')
    severity_mapping = JSONText(
        empty={},
        help_text='{"field": "labels.severity", "map": {"critical": "SEV1", "warning": "SEV3"}, "default": "SEV2"}: severity names '
        "or ids, kept through renames; a value that maps to nothing opens at the default, and without one at the most severe level.",
    )
    group_by = JSONText(empty=[], help_text='Label names, e.g. ["alertname", "cluster"]; empty: the sender\'s group key.')

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["reopen_window"] = timedelta(minutes=data.pop("reopen_minutes"))
        return data
