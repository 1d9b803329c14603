"""Forms for the responder pages: they check input shape; the services check the rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from incidents.models import (
    ActionItemPriority,
    ActionItemStatus,
    Impact,
    IncidentRole,
    IncidentStatus,
    MaintenanceStatus,
    MessageTemplate,
    MessageTemplateKind,
    PostmortemStatus,
    PostmortemTemplate,
    Service,
    Severity,
    Visibility,
)
from incidents.services import ALLOWED_TRANSITIONS
from portal.fields import CleanFormCharField
from portal.models import OrgRole

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


def responders() -> Any:
    """People who can hold an incident role: viewers read, they do not command."""
    can_act = Q(is_superuser=True) | Q(membership__role__in=[OrgRole.RESPONDER, OrgRole.MANAGER])
    return active_users().filter(can_act)


INCIDENT_TEMPLATE_KINDS = [MessageTemplateKind.INITIAL, MessageTemplateKind.UPDATE, MessageTemplateKind.RESOLUTION]
LIFECYCLE = list(IncidentStatus.values)  # investigating, identified, monitoring, resolved


def incident_templates() -> QuerySet[MessageTemplate]:
    """The message templates that fit an incident (not maintenance), in the order an
    incident goes through them: initial, then updates by status, then resolution."""
    kind_rank = Case(*[When(kind=k, then=Value(i)) for i, k in enumerate(INCIDENT_TEMPLATE_KINDS)], output_field=IntegerField())
    status_rank = Case(*[When(status=s, then=Value(i)) for i, s in enumerate(LIFECYCLE)], default=Value(len(LIFECYCLE)), output_field=IntegerField())
    return (
        MessageTemplate.objects.filter(kind__in=INCIDENT_TEMPLATE_KINDS)
        .annotate(kind_rank=kind_rank, status_rank=status_rank)
        .order_by("kind_rank", "status_rank", "name")
    )


class DeclareForm(forms.Form):
    title = CleanFormCharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "What is broken, as users see it"}))
    severity = forms.ModelChoiceField(queryset=Severity.objects.all(), empty_label=None)
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    impact = forms.ChoiceField(choices=IMPACT_CHOICES, initial=Impact.PARTIAL_OUTAGE, help_text="For every service named.")
    commander = UserChoiceField(queryset=responders(), required=False, empty_label="Nobody yet")
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.INTERNAL, widget=forms.RadioSelect)
    summary = CleanFormCharField(multiline=True, required=False, widget=forms.Textarea(attrs={"rows": 3}))


class NoteForm(forms.Form):
    body = CleanFormCharField(multiline=True, max_length=20_000, widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What you saw, did or decided"}))
    pinned = forms.BooleanField(required=False, label="Pin to the top")


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=IncidentStatus.choices)
    reason = CleanFormCharField(multiline=True, required=False, max_length=2000, help_text="Required to reopen a resolved incident.")

    def __init__(self, *args: Any, current: str | None = None, **kwargs: Any) -> None:
        """With `current`, offer only the statuses the incident can move to, the next
        step forward first selected (investigating → identified → monitoring →
        resolved; a resolved incident reopens). Posted data is checked against every
        status: the service names the allowed ones when a transition is refused."""
        super().__init__(*args, **kwargs)
        if current is None:
            return
        allowed = ALLOWED_TRANSITIONS[current]
        cast(forms.ChoiceField, self.fields["status"]).choices = [(v, label) for v, label in IncidentStatus.choices if v in allowed]
        later = [v for v in LIFECYCLE[LIFECYCLE.index(current) + 1 :] if v in allowed]
        self.fields["status"].initial = (later or list(allowed))[0]


class SeverityForm(forms.Form):
    severity = forms.ModelChoiceField(queryset=Severity.objects.all(), empty_label=None)
    reason = CleanFormCharField(multiline=True, required=False, max_length=2000)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=IncidentRole.choices)
    user = UserChoiceField(queryset=responders(), required=False, empty_label="Nobody (release the role)")


class ImpactForm(forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.all(), empty_label=None)
    impact = forms.ChoiceField(choices=[*IMPACT_CHOICES, ("", "Not impacted (remove)")], required=False)


class VisibilityForm(forms.Form):
    visibility = forms.ChoiceField(choices=Visibility.choices)


class PublicUpdateForm(forms.Form):
    template = forms.ModelChoiceField(queryset=incident_templates(), required=False, empty_label="No template")
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
    """One textarea per section of the postmortem, plus the impact figures."""

    users_affected = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1, label="Users affected")
    users_affected_percent = forms.DecimalField(
        required=False, min_value=0, max_value=100, max_digits=5, decimal_places=2, label="Users affected (%)"
    )
    impact_duration_minutes = forms.IntegerField(
        required=False, min_value=0, max_value=366 * 24 * 60, label="Affected for (minutes)",
        help_text="Left empty, the incident's own duration is shown.",
    )  # fmt: skip
    revenue_impact = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2, label="Revenue impact")

    def impact(self) -> dict[str, Any]:
        """The figures as `postmortem_update` takes them (empty clears one)."""
        data = self.cleaned_data
        minutes = data.get("impact_duration_minutes")
        return {
            "users_affected": data.get("users_affected"),
            "users_affected_percent": data.get("users_affected_percent"),
            "impact_duration": timedelta(minutes=minutes) if minutes is not None else None,
            "revenue_impact": data.get("revenue_impact"),
        }

    def impact_fields(self) -> list[Any]:
        return [self[name] for name in ("users_affected", "users_affected_percent", "impact_duration_minutes", "revenue_impact")]

    @staticmethod
    def initial_for(postmortem: Any) -> dict[str, Any]:
        duration = postmortem.impact_duration
        return {
            "users_affected": postmortem.users_affected,
            "users_affected_percent": postmortem.users_affected_percent,
            "impact_duration_minutes": int(duration.total_seconds() // 60) if duration is not None else None,
            "revenue_impact": postmortem.revenue_impact,
        }

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


class PostmortemStartForm(forms.Form):
    template = forms.ModelChoiceField(queryset=PostmortemTemplate.objects.order_by("-is_default", "name"), required=False,
                                      empty_label=None, label="Template")  # fmt: skip


class PostmortemTemplateForm(forms.Form):
    name = CleanFormCharField(max_length=120)
    description = CleanFormCharField(multiline=True, required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    is_default = forms.BooleanField(required=False, label="Default for new postmortems")


class TemplateSectionForm(forms.Form):
    title = CleanFormCharField(max_length=120)
    key = forms.SlugField(max_length=64, required=False, help_text="Made from the title when empty.")
    required = forms.BooleanField(required=False, label="Required to publish")
    prompt = CleanFormCharField(multiline=True, required=False, max_length=2000, label="Help text",
                                widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip


# Rows are ordered by their number (ORDER) and removed with DELETE; one empty row
# is offered for a new section (the page's "Add a section" adds more with htmx).
TemplateSectionFormSet = forms.formset_factory(
    TemplateSectionForm, extra=1, can_order=True, can_delete=True, max_num=40, validate_max=True
)


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
