"""Maintenance windows and recurring maintenance: output and input serializers
(incidents.api.serializers holds the shared reference fields)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.api.serializers import ServiceRefField
from incidents.models import MaintenanceRecurrence, MaintenanceStatus, MaintenanceWindow, Visibility
from portal.fields import CleanCharField, CleanMultilineCharField


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    services: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id", "title", "description", "services", "scheduled_start", "scheduled_end", "status", "visibility",
            "started_at", "completed_at", "created_at", "updated_at",
        ]  # fmt: skip


class MaintenanceRecurrenceSerializer(serializers.ModelSerializer):
    services: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    next_windows = serializers.SerializerMethodField(help_text="Ids and starts of the windows materialised ahead.")

    class Meta:
        model = MaintenanceRecurrence
        fields = ["id", "title", "description", "services", "rule", "first_start", "timezone", "duration", "visibility",
                  "horizon_days", "next_windows", "created_at"]  # fmt: skip

    @extend_schema_field({"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}, "scheduled_start": {"type": "string", "format": "date-time"}}}})
    def get_next_windows(self, recurrence: MaintenanceRecurrence) -> list[dict[str, Any]]:
        rows = recurrence.windows.filter(status=MaintenanceStatus.SCHEDULED).order_by("scheduled_start").values("id", "scheduled_start")[:20]
        return [{"id": r["id"], "scheduled_start": r["scheduled_start"].isoformat()} for r in rows]


class MaintenanceRecurrenceInput(serializers.Serializer):
    title = CleanCharField(max_length=200)
    description = CleanMultilineCharField(required=False, allow_blank=True, default="", max_length=20_000)
    services = ServiceRefField(many=True, allow_empty=False)
    rule = serializers.CharField(max_length=500, help_text="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=TU or FREQ=MONTHLY;BYDAY=1SU")
    first_start = serializers.DateTimeField(help_text="The first occurrence; its local time of day in `timezone` repeats.")
    timezone = serializers.CharField(max_length=64, default="UTC")
    duration = serializers.DurationField(help_text="e.g. 02:00:00")
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PUBLIC)
    horizon_days = serializers.IntegerField(min_value=1, max_value=366, default=35)


class MaintenanceInput(serializers.Serializer):
    title = CleanCharField(max_length=200)
    description = CleanMultilineCharField(required=False, allow_blank=True, default="", max_length=20_000)
    services = ServiceRefField(many=True, allow_empty=False)
    scheduled_start = serializers.DateTimeField()
    scheduled_end = serializers.DateTimeField()
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PUBLIC)


class MaintenanceUpdateInput(serializers.Serializer):
    title = CleanCharField(max_length=200, required=False)
    description = CleanMultilineCharField(required=False, allow_blank=True, max_length=20_000)
    services = ServiceRefField(many=True, allow_empty=False, required=False)
    scheduled_start = serializers.DateTimeField(required=False)
    scheduled_end = serializers.DateTimeField(required=False)


class MaintenanceStatusInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=MaintenanceStatus.choices)
