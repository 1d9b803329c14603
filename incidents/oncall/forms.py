from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from incidents.models import ChannelKind, ContactMethod


class OverrideForm(forms.Form):
    user = forms.ModelChoiceField(queryset=get_user_model().objects.filter(is_active=True).order_by("username"))
    starts_at = forms.DateTimeField(label="Starts (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(label="Ends (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    reason = forms.CharField(required=False, max_length=200)


class ContactMethodForm(forms.Form):
    kind = forms.ChoiceField(choices=[c for c in ChannelKind.choices if c[0] != ChannelKind.PAGERDUTY])
    target = forms.CharField(max_length=500, label="Address or URL")
    label = forms.CharField(max_length=120, required=False)
    secret = forms.CharField(max_length=200, required=False, label="Signing secret (webhooks)")


class RuleForm(forms.Form):
    contact_method = forms.ModelChoiceField(queryset=ContactMethod.objects.none())
    delay_minutes = forms.IntegerField(min_value=0, max_value=1440, initial=0, label="After (minutes)")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact_method"].queryset = ContactMethod.objects.filter(user=user)  # type: ignore[attr-defined]
