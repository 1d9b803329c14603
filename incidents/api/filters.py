from __future__ import annotations

from datetime import UTC, datetime

from django import forms
from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

from incidents.models import (
    Incident,
    IncidentStatus,
    MaintenanceStatus,
    MaintenanceWindow,
    Severity,
    Visibility,
)


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time with any offset RFC 3339 allows, as UTC. PostgreSQL refuses
    offsets beyond ±15:59 (`+22:22` is valid RFC 3339), so the offset is applied here
    rather than sent along."""

    def to_python(self, value: str | None) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("This time is out of range.", code="invalid") from None


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class IncidentFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=IncidentStatus.choices)
    severity = filters.CharFilter(method="filter_severity", help_text="Severity id or name; comma-separated for several.")
    service = filters.CharFilter(method="filter_service", help_text="Service slug.")
    open = filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_open", help_text="true: not resolved; false: resolved."
    )
    visibility = filters.ChoiceFilter(choices=Visibility.choices)
    tag = filters.CharFilter(field_name="tags__name")
    q = filters.CharFilter(method="filter_q", help_text="Text search in the title, summary and reference.")
    started_after = UtcDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = UtcDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Incident
        fields: list[str] = []

    def filter_severity(self, qs: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        ids: list[int] = []
        names: list[str] = []
        for part in value.split(",")[:10]:
            part = part.strip()[:32]
            if part.isascii() and part.isdigit() and len(part) < 10:
                ids.append(int(part))
            elif part:
                names.append(part)
        if names:
            # Resolve names on the small severity table first, so that the incident
            # query is a plain severity_id IN (...) served by incident_severity_idx
            # rather than an OR across a join.
            by_name = Q()
            for item in names:
                by_name |= Q(name__iexact=item)
            ids += list(Severity.objects.filter(by_name).values_list("id", flat=True))
        return qs.filter(severity_id__in=ids)

    def filter_service(self, qs: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        return qs.filter(impacts__service__slug=value[:50])

    def filter_open(self, qs: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        if value == "true":
            return qs.exclude(status=IncidentStatus.RESOLVED)
        return qs.filter(status=IncidentStatus.RESOLVED)

    def filter_q(self, qs: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        text = value.strip()[:200]
        if not text:
            return qs
        cond = Q(title__icontains=text) | Q(summary__icontains=text)
        ref = Incident.id_from_reference(text)
        if ref is not None:
            cond |= Q(pk=ref)
        return qs.filter(cond)


class MaintenanceFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=MaintenanceStatus.choices)
    upcoming = filters.ChoiceFilter(choices=[("true", "true"), ("false", "false")], method="filter_upcoming")

    class Meta:
        model = MaintenanceWindow
        fields: list[str] = []

    def filter_upcoming(self, qs: QuerySet[MaintenanceWindow], name: str, value: str) -> QuerySet[MaintenanceWindow]:
        if value == "true":
            return qs.exclude(status=MaintenanceStatus.COMPLETED)
        return qs.filter(status=MaintenanceStatus.COMPLETED)
