"""Forms for the responder pages: they check input shape; the services check the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from incidents.models import (
    ActionItemPriority,
    ActionItemStatus,
    Impact,
    IncidentRole,
    IncidentStatus,
    MaintenanceStatus,
    MessageTemplate,
    PostmortemStatus,
    Service,
    Severity,
    Visibility,
)
from portal.fields import CleanFormCharField

User = get_user_model()

# "Operational" is not an impact an incident can give a service: removing the
# service from the incident is how it goes back to operational.
IMPACT_CHOICES = [(value, label) for value, label in Impact.choices if value != Impact.OPERATIONAL]


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        full = obj.get_full_name()
        return f"{full} ({obj.username})" if full else obj.username


def active_users() -> Any:
    return User.objects.filter(is_active=True).order_by("username")


class DeclareForm(forms.Form):
    title = CleanFormCharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "What is broken, as users see it"}))
    severity = forms.ModelChoiceField(queryset=Severity.objects.all(), empty_label=None)
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    impact = forms.ChoiceField(choices=IMPACT_CHOICES, initial=Impact.PARTIAL_OUTAGE, help_text="For every service named.")
    commander = UserChoiceField(queryset=active_users(), required=False, empty_label="Nobody yet")
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.INTERNAL, widget=forms.RadioSelect)
    summary = CleanFormCharField(multiline=True, required=False, widget=forms.Textarea(attrs={"rows": 3}))


class NoteForm(forms.Form):
    body = CleanFormCharField(multiline=True, max_length=20_000, widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What you saw, did or decided"}))
    pinned = forms.BooleanField(required=False, label="Pin to the top")


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=IncidentStatus.choices)
    reason = CleanFormCharField(multiline=True, required=False, max_length=2000, help_text="Required to reopen a resolved incident.")


class SeverityForm(forms.Form):
    severity = forms.ModelChoiceField(queryset=Severity.objects.all(), empty_label=None)
    reason = CleanFormCharField(multiline=True, required=False, max_length=2000)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=IncidentRole.choices)
    user = UserChoiceField(queryset=active_users(), required=False, empty_label="Nobody (release the role)")


class ImpactForm(forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.all(), empty_label=None)
    impact = forms.ChoiceField(choices=[*IMPACT_CHOICES, ("", "Not impacted (remove)")], required=False)


class VisibilityForm(forms.Form):
    visibility = forms.ChoiceField(choices=Visibility.choices)


class PublicUpdateForm(forms.Form):
    template = forms.ModelChoiceField(queryset=MessageTemplate.objects.all(), required=False, empty_label="No template")
    status = forms.ChoiceField(choices=[("", "Keep the current status"), *IncidentStatus.choices], required=False)
    body = CleanFormCharField(multiline=True, max_length=20_000, widget=forms.Textarea(attrs={"rows": 5, "placeholder": "Markdown. What users see, what we are doing, when we will update next."}))


class PreviewForm(forms.Form):
    body = CleanFormCharField(multiline=True, required=False, max_length=20_000)


class PinForm(forms.Form):
    pinned = forms.BooleanField(required=False)


class MaintenanceForm(forms.Form):
    title = CleanFormCharField(max_length=200)
    description = CleanFormCharField(multiline=True, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    scheduled_start = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    scheduled_end = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.all(), widget=forms.CheckboxSelectMultiple)
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PUBLIC, widget=forms.RadioSelect)


class MaintenanceStatusForm(forms.Form):
    status = forms.ChoiceField(choices=MaintenanceStatus.choices)


class PostmortemForm(forms.Form):
    """One textarea per section of the postmortem, plus its figures."""

    users_affected = forms.IntegerField(required=False, min_value=0)
    revenue_impact = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2)

    def __init__(self, *args: Any, sections: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.section_keys = []
        for section in sections:
            name = f"section-{section.key}"
            self.section_keys.append((name, section))
            self.fields[name] = CleanFormCharField(
                multiline=True,
                required=False,
                max_length=100_000,
                label=section.title,
                initial=section.body,
                help_text=section.prompt,
                widget=forms.Textarea(attrs={"rows": 6}),
            )

    def section_bodies(self) -> dict[str, str]:
        return {section.key: self.cleaned_data.get(name) or "" for name, section in self.section_keys}

    def section_fields(self) -> list[tuple[Any, Any]]:
        return [(self[name], section) for name, section in self.section_keys]


class PostmortemStatusForm(forms.Form):
    status = forms.ChoiceField(choices=PostmortemStatus.choices)


class ActionItemForm(forms.Form):
    title = CleanFormCharField(max_length=200)
    owner = UserChoiceField(queryset=active_users(), required=False, empty_label="Unassigned")
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    priority = forms.ChoiceField(choices=ActionItemPriority.choices, initial=ActionItemPriority.MEDIUM)
    external_url = forms.URLField(required=False, max_length=500, assume_scheme="https")


class ActionItemStatusForm(forms.Form):
    status = forms.ChoiceField(choices=ActionItemStatus.choices)
