"""Postmortems and their action items: output and input serializers
(incidents.api.serializers holds the shared reference fields)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rest_framework import serializers

from incidents.api.serializers import UserBriefSerializer, UserRefField
from incidents.models import (
    ActionItem,
    ActionItemPriority,
    ActionItemStatus,
    Postmortem,
    PostmortemSection,
    PostmortemStatus,
    PostmortemTemplate,
)
from portal.fields import CleanCharField, CleanMultilineCharField


class PostmortemTemplateBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = PostmortemTemplate
        fields = ["id", "name"]


class PostmortemSectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = PostmortemSection
        fields = ["key", "title", "prompt", "body", "required", "position", "updated_at"]


class ActionItemSerializer(serializers.ModelSerializer):
    owner = UserBriefSerializer(allow_null=True, read_only=True)

    class Meta:
        model = ActionItem
        fields = ["id", "title", "owner", "due_date", "priority", "status", "external_url", "created_at", "updated_at"]


class PostmortemSerializer(serializers.ModelSerializer):
    incident = serializers.CharField(source="incident.reference")
    incident_title = serializers.CharField(source="incident.title")
    owner = UserBriefSerializer(allow_null=True)
    sections = PostmortemSectionSerializer(many=True)
    action_items = ActionItemSerializer(many=True)
    duration_seconds = serializers.SerializerMethodField(help_text="How long the incident lasted, open to resolved.")
    template = PostmortemTemplateBriefSerializer(allow_null=True, help_text="The template it was started from.")
    impact_duration_minutes = serializers.SerializerMethodField(help_text="How long users were affected, as reported.")

    class Meta:
        model = Postmortem
        fields = [
            "id", "incident", "incident_title", "status", "owner", "template", "users_affected", "users_affected_percent",
            "impact_duration_minutes", "revenue_impact", "duration_seconds", "sections", "action_items", "created_at",
            "updated_at", "published_at",
        ]  # fmt: skip

    def get_duration_seconds(self, postmortem: Postmortem) -> int | None:
        duration = postmortem.duration
        return int(duration.total_seconds()) if duration is not None else None

    def get_impact_duration_minutes(self, postmortem: Postmortem) -> int | None:
        duration = postmortem.impact_duration
        return int(duration.total_seconds() // 60) if duration is not None else None


class PostmortemStartInput(serializers.Serializer):
    incident = serializers.CharField(max_length=32)
    template = serializers.PrimaryKeyRelatedField(
        queryset=PostmortemTemplate.objects.all(), required=False, allow_null=True, default=None,
        help_text="A postmortem template's id; the default template when left out.",
    )  # fmt: skip


class PostmortemUpdateInput(serializers.Serializer):
    """Impact figures left out are kept; null clears one."""

    sections = serializers.DictField(child=CleanMultilineCharField(allow_blank=True, max_length=100_000), required=False)
    users_affected = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False, allow_null=True)
    users_affected_percent = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False, allow_null=True)
    impact_duration_minutes = serializers.IntegerField(min_value=0, max_value=366 * 24 * 60, required=False, allow_null=True,
                                                       help_text="How long users were affected.")  # fmt: skip
    revenue_impact = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True)
    owner = UserRefField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "impact_duration_minutes" in attrs:
            minutes = attrs.pop("impact_duration_minutes")
            attrs["impact_duration"] = timedelta(minutes=minutes) if minutes is not None else None
        return attrs


class PostmortemStatusInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=PostmortemStatus.choices)


class ActionItemInput(serializers.Serializer):
    title = CleanCharField(max_length=200)
    owner = UserRefField(required=False, allow_null=True, default=None)
    due_date = serializers.DateField(required=False, allow_null=True, default=None)
    priority = serializers.ChoiceField(choices=ActionItemPriority.choices, default=ActionItemPriority.MEDIUM)
    external_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=500)


class ActionItemUpdateInput(serializers.Serializer):
    title = CleanCharField(max_length=200, required=False)
    owner = UserRefField(required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=ActionItemPriority.choices, required=False)
    status = serializers.ChoiceField(choices=ActionItemStatus.choices, required=False)
    external_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
