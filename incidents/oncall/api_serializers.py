"""Serializers of the on-call and notification API. People are named by username,
schedules, policies, services and teams by slug."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework import serializers

from incidents.api.fields import SlugRef
from incidents.models import (
    Channel,
    ChannelKind,
    ContactMethod,
    Escalation,
    EscalationPolicy,
    EscalationStep,
    LayerMember,
    NotificationDelivery,
    NotificationRule,
    Page,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
    Service,
    Severity,
)
from incidents.notify import netguard
from portal.fields import CleanTextModelSerializer
from portal.models import Team, display_name

User = get_user_model()


def _users() -> Any:
    return SlugRef(slug_field="username", queryset=User.objects.filter(is_active=True))


class OnCallPersonSerializer(serializers.Serializer):
    username = serializers.CharField()
    name = serializers.CharField()

    @staticmethod
    def of(user: Any) -> dict[str, str] | None:
        return {"username": user.get_username(), "name": display_name(user)} if user is not None else None


class MemberListField(serializers.ListField):
    def to_representation(self, data: Any) -> list[str]:
        members = data.all() if hasattr(data, "all") else data
        return [m.user.get_username() for m in members]


class LayerSerializer(CleanTextModelSerializer):
    schedule = SlugRef(slug_field="slug", queryset=Schedule.objects.all())
    members = MemberListField(child=serializers.CharField(), help_text="Usernames in rotation order.")

    class Meta:
        model = ScheduleLayer
        fields = ["id", "schedule", "name", "priority", "rotation", "shift_hours", "rotation_start", "ends_at",
                  "restrict_weekdays", "restrict_start", "restrict_end", "members"]

    def validate_members(self, value: list[str]) -> list[Any]:
        users = {u.get_username(): u for u in User.objects.filter(username__in=value, is_active=True)}
        missing = [name for name in value if name not in users]
        if missing:
            raise serializers.ValidationError(f"Unknown or inactive: {', '.join(missing)}.")
        return [users[name] for name in value]

    def validate_restrict_weekdays(self, value: list[Any]) -> list[int]:
        if not isinstance(value, list) or any(not isinstance(d, int) or not 1 <= d <= 7 for d in value):
            raise serializers.ValidationError("A list of ISO weekdays, 1 (Monday) to 7 (Sunday).")
        return sorted(set(value))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        rotation = attrs.get("rotation", getattr(self.instance, "rotation", "weekly"))
        if rotation == "custom" and not attrs.get("shift_hours", getattr(self.instance, "shift_hours", None)):
            raise serializers.ValidationError({"shift_hours": ["A custom rotation needs shift_hours."]})
        start = attrs.get("restrict_start", getattr(self.instance, "restrict_start", None))
        end = attrs.get("restrict_end", getattr(self.instance, "restrict_end", None))
        if (start is None) != (end is None):
            raise serializers.ValidationError({"restrict_end": ["Give both restrict_start and restrict_end, or neither."]})
        return attrs

    @transaction.atomic
    def create(self, validated: dict[str, Any]) -> ScheduleLayer:
        members = validated.pop("members", [])
        layer = super().create(validated)
        self._members(layer, members)
        return layer

    @transaction.atomic
    def update(self, instance: ScheduleLayer, validated: dict[str, Any]) -> ScheduleLayer:
        members = validated.pop("members", None)
        layer = super().update(instance, validated)
        if members is not None:
            self._members(layer, members)
        return layer

    @staticmethod
    def _members(layer: ScheduleLayer, users: list[Any]) -> None:
        LayerMember.objects.filter(layer=layer).delete()
        LayerMember.objects.bulk_create([LayerMember(layer=layer, user=u, position=i) for i, u in enumerate(users)])


class ScheduleSerializer(CleanTextModelSerializer):
    team = SlugRef(slug_field="slug", queryset=Team.objects.all(), allow_null=True, required=False)
    layers = LayerSerializer(many=True, read_only=True)

    class Meta:
        model = Schedule
        fields = ["id", "slug", "name", "description", "time_zone", "team", "layers"]


class ShiftSerializer(serializers.Serializer):
    user = OnCallPersonSerializer()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    layer = serializers.CharField(help_text="The layer's name, or `override`.")


class OnCallSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    user = OnCallPersonSerializer(allow_null=True)


class OverrideSerializer(CleanTextModelSerializer):
    user = _users()

    class Meta:
        model = ScheduleOverride
        fields = ["id", "user", "starts_at", "ends_at", "reason", "created_at"]
        read_only_fields = ["created_at"]


class EscalationStepSerializer(CleanTextModelSerializer):
    users = SlugRef(slug_field="username", many=True, queryset=User.objects.filter(is_active=True), required=False)
    schedules = SlugRef(slug_field="slug", many=True, queryset=Schedule.objects.all(), required=False)
    teams = SlugRef(slug_field="slug", many=True, queryset=Team.objects.all(), required=False)

    class Meta:
        model = EscalationStep
        fields = ["delay_minutes", "users", "schedules", "teams"]


class PolicySerializer(CleanTextModelSerializer):
    steps = EscalationStepSerializer(many=True)
    services = SlugRef(slug_field="slug", many=True, queryset=Service.objects.all(), required=False)
    teams = SlugRef(slug_field="slug", many=True, queryset=Team.objects.all(), required=False)

    class Meta:
        model = EscalationPolicy
        fields = ["id", "slug", "name", "description", "repeat", "is_default", "services", "teams", "steps"]

    def validate_steps(self, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not steps:
            raise serializers.ValidationError("A policy needs at least one step.")
        for index, step in enumerate(steps):
            if not (step.get("users") or step.get("schedules") or step.get("teams")):
                raise serializers.ValidationError(f"Step {index + 1} names no one: give users, schedules or teams.")
        return steps

    @transaction.atomic
    def create(self, validated: dict[str, Any]) -> EscalationPolicy:
        steps = validated.pop("steps")
        policy = super().create(validated)
        self._steps(policy, steps)
        return policy

    @transaction.atomic
    def update(self, instance: EscalationPolicy, validated: dict[str, Any]) -> EscalationPolicy:
        steps = validated.pop("steps", None)
        policy = super().update(instance, validated)
        if steps is not None:
            policy.steps.all().delete()
            self._steps(policy, steps)
        return policy

    @staticmethod
    def _steps(policy: EscalationPolicy, steps: list[dict[str, Any]]) -> None:
        for position, data in enumerate(steps):
            step = EscalationStep.objects.create(policy=policy, position=position, delay_minutes=data.get("delay_minutes", 15))
            step.users.set(data.get("users", []))
            step.schedules.set(data.get("schedules", []))
            step.teams.set(data.get("teams", []))


class ContactMethodSerializer(CleanTextModelSerializer):
    class Meta:
        model = ContactMethod
        fields = ["id", "kind", "label", "target", "secret", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {"secret": {"write_only": True}}


class NotificationRuleSerializer(CleanTextModelSerializer):
    contact_method = serializers.PrimaryKeyRelatedField(queryset=ContactMethod.objects.all())

    class Meta:
        model = NotificationRule
        fields = ["id", "contact_method", "delay_minutes"]


class ChannelSerializer(CleanTextModelSerializer):
    severities = SlugRef(slug_field="name", many=True, queryset=Severity.objects.all())

    class Meta:
        model = Channel
        fields = ["id", "name", "kind", "url", "routing_key", "secret", "severities", "enabled"]
        extra_kwargs = {"secret": {"write_only": True}, "routing_key": {"write_only": True}}

    def validate_url(self, value: str) -> str:
        try:
            netguard.check_url(value)
        except netguard.RefusedAddress as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        if kind == ChannelKind.PAGERDUTY and not attrs.get("routing_key", getattr(self.instance, "routing_key", "")):
            raise serializers.ValidationError({"routing_key": ["PagerDuty needs the integration's routing key."]})
        return attrs


class NotificationDeliverySerializer(CleanTextModelSerializer):
    incident = serializers.SerializerMethodField()
    user = SlugRef(slug_field="username", read_only=True)
    subject = serializers.CharField(source="notification.subject", read_only=True)
    notification_kind = serializers.CharField(source="notification.kind", read_only=True)

    class Meta:
        model = NotificationDelivery
        fields = ["id", "incident", "notification_kind", "subject", "user", "channel", "kind", "target", "state", "attempts",
                  "next_attempt_at", "last_error", "response_code", "delivered_at", "created_at"]

    def get_incident(self, delivery: NotificationDelivery) -> str | None:
        return f"INC-{delivery.incident_id}" if delivery.incident_id else None


class PageSerializer(CleanTextModelSerializer):
    user = SlugRef(slug_field="username", read_only=True)

    class Meta:
        model = Page
        fields = ["step", "user", "via", "paged_at"]


class EscalationSerializer(CleanTextModelSerializer):
    incident = serializers.SerializerMethodField()
    policy = SlugRef(slug_field="slug", read_only=True)
    pages = PageSerializer(many=True, read_only=True)

    class Meta:
        model = Escalation
        fields = ["id", "incident", "policy", "state", "next_step", "next_due_at", "started_at", "stopped_at", "breached_at", "pages"]

    def get_incident(self, escalation: Escalation) -> str:
        return f"INC-{escalation.incident_id}"


class AckLinkSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1000)


class AckResultSerializer(serializers.Serializer):
    incident = serializers.CharField()
    acknowledged_at = serializers.DateTimeField()
