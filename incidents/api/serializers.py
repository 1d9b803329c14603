"""Input and output serializers of the incidents API, kept apart.

Output serializers read what the selectors prefetch; input serializers only
validate shapes and resolve references, the services do the work.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents import templating
from incidents.api.fields import SlugRef, is_number, refuse_unstorable
from incidents.models import (
    ActionItem,
    ActionItemPriority,
    ActionItemStatus,
    Impact,
    Incident,
    IncidentRole,
    IncidentStatus,
    MaintenanceRecurrence,
    MaintenanceStatus,
    MaintenanceWindow,
    MessageTemplate,
    Postmortem,
    PostmortemSection,
    PostmortemStatus,
    PostmortemTemplate,
    PublicUpdate,
    Service,
    ServiceGroup,
    ServiceLink,
    Severity,
    TimelineEvent,
    Visibility,
)
from portal.errors import ValidationFailed
from portal.fields import CleanCharField, CleanMultilineCharField, CleanTextModelSerializer, format_datetime
from portal.models import Team, display_name

User = get_user_model()

INCIDENT_IMPACTS = [c for c in Impact.choices if c[0] != Impact.OPERATIONAL]

# The output serializers of the hottest reads (incident list and detail, timeline
# pages) build their dicts directly instead of through DRF's per-field machinery,
# which costs more than the queries at 25-50 rows a page. The declared fields stay
# the contract (the OpenAPI schema) and the same field classes format the values,
# so the output is byte-for-byte what the generic path produced
# (tests/test_serializer_equivalence.py compares the two).


# --- reference fields ----------------------------------------------------------------
class SeverityRefField(serializers.RelatedField):
    """A severity by id or by name ("SEV1", "P0")."""

    default_error_messages = {"does_not_exist": "No severity {value!r}.", "invalid": "Give a severity id or name."}

    def get_queryset(self) -> Any:
        return Severity.objects.all()

    def to_internal_value(self, data: Any) -> Severity:
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("invalid")
        text = refuse_unstorable(str(data).strip()[:64])
        qs = self.get_queryset()
        found = qs.filter(pk=int(text)).first() if is_number(text, 10) else qs.filter(name__iexact=text).first()
        if found is None:
            self.fail("does_not_exist", value=text)
        return found

    def to_representation(self, value: Severity) -> str:
        return value.name


@extend_schema_field(OpenApiTypes.STR)
class ServiceRefField(SlugRef):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", Service.objects.all())
        super().__init__(slug_field="slug", **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class UserRefField(serializers.PrimaryKeyRelatedField):
    """A user by id or username."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", User.objects.filter(is_active=True))
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and not is_number(refuse_unstorable(data)):
            user = self.get_queryset().filter(username=data[:150]).first()
            if user is None:
                self.fail("does_not_exist", pk_value=data)
            return user
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if int(data) > 2**62:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


# --- people ------------------------------------------------------------------------------
class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, user: Any) -> str:
        return display_name(user)

    def to_representation(self, user: Any) -> dict[str, Any]:
        return {"id": int(user.id), "username": str(user.username), "name": self.get_name(user)}


# --- catalogue ---------------------------------------------------------------------------
# These validate the input and render the output; the writes are the catalogue
# services' (incidents.services.catalog), called by the viewsets.
class SeveritySerializer(CleanTextModelSerializer):
    response_target_seconds = serializers.IntegerField(min_value=60, max_value=60 * 60 * 24 * 90, source="response_target_s")

    class Meta:
        model = Severity
        fields = ["id", "name", "rank", "colour", "description", "response_target_seconds", "pages"]

    def validate_colour(self, value: str) -> str:
        import re

        if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
            raise serializers.ValidationError("Use a hex colour such as #d92d20.")
        return value

    def to_representation(self, instance: Severity) -> dict[str, Any]:
        instance.response_target_s = int(instance.response_target.total_seconds())  # type: ignore[attr-defined]
        return super().to_representation(instance)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        from datetime import timedelta

        if "response_target_s" in attrs:
            attrs["response_target"] = timedelta(seconds=attrs.pop("response_target_s"))
        return attrs


class ServiceGroupSerializer(CleanTextModelSerializer):
    class Meta:
        model = ServiceGroup
        fields = ["id", "slug", "name", "description", "display_order"]


class ServiceLinkSerializer(CleanTextModelSerializer):
    class Meta:
        model = ServiceLink
        fields = ["kind", "label", "url"]


class ServiceSerializer(CleanTextModelSerializer):
    group = SlugRef(slug_field="slug", queryset=ServiceGroup.objects.all(), allow_null=True, required=False)
    team = SlugRef(slug_field="slug", queryset=Team.objects.all(), allow_null=True, required=False)
    depends_on = SlugRef(slug_field="slug", queryset=Service.objects.all(), many=True, required=False)
    links = ServiceLinkSerializer(many=True, required=False)
    status = serializers.SerializerMethodField()

    class Meta:
        model = Service
        fields = ["id", "slug", "name", "description", "group", "team", "visibility", "display_order", "depends_on", "links", "status"]

    @extend_schema_field(serializers.ChoiceField(choices=Impact.choices))
    def get_status(self, service: Service) -> str:
        statuses: dict[int, str] = self.context.get("statuses", {})
        return statuses.get(service.pk, Impact.OPERATIONAL)

    def validate_depends_on(self, value: list[Service]) -> list[Service]:
        if self.instance is not None and any(s.pk == self.instance.pk for s in value):
            raise serializers.ValidationError("A service cannot depend on itself.")
        return value


class MessageTemplateSerializer(CleanTextModelSerializer):
    class Meta:
        model = MessageTemplate
        fields = ["id", "kind", "name", "status", "body", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        kind = attrs.get("kind", getattr(self.instance, "kind", ""))
        body = attrs.get("body", getattr(self.instance, "body", ""))
        try:
            templating.check_body(body, kind)
        except ValidationFailed as exc:
            raise serializers.ValidationError(exc.fields) from None
        return attrs


# --- incidents: output -------------------------------------------------------------------
class SeverityBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    rank = serializers.IntegerField()
    colour = serializers.CharField()

    def to_representation(self, severity: Severity) -> dict[str, Any]:
        return {"id": int(severity.id), "name": str(severity.name), "rank": int(severity.rank), "colour": str(severity.colour)}


class ImpactSerializer(serializers.Serializer):
    service = serializers.CharField(source="service.slug")
    name = serializers.CharField(source="service.name")
    impact = serializers.ChoiceField(choices=INCIDENT_IMPACTS)

    def to_representation(self, impact: Any) -> dict[str, Any]:
        return {"service": str(impact.service.slug), "name": str(impact.service.name), "impact": str(impact.impact)}


_USER_BRIEF = UserBriefSerializer()
_SEVERITY_BRIEF = SeverityBriefSerializer()
_IMPACT = ImpactSerializer()


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=IncidentRole.choices)
    user = UserBriefSerializer()
    started_at = serializers.DateTimeField()


class IncidentListSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    severity = SeverityBriefSerializer()
    impacts = ImpactSerializer(many=True)
    commander = serializers.SerializerMethodField()
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id", "reference", "title", "status", "severity", "visibility", "started_at", "acknowledged_at",
            "resolved_at", "impacts", "commander", "tags",
        ]  # fmt: skip

    @extend_schema_field(UserBriefSerializer(allow_null=True))
    def get_commander(self, incident: Incident) -> dict[str, Any] | None:
        for assignment in getattr(incident, "current_roles", []):
            if assignment.role == IncidentRole.COMMANDER:
                return _USER_BRIEF.to_representation(assignment.user)
        return None

    def to_representation(self, incident: Incident) -> dict[str, Any]:
        return {
            "id": int(incident.id),
            "reference": incident.reference,
            "title": str(incident.title),
            "status": str(incident.status),
            "severity": _SEVERITY_BRIEF.to_representation(incident.severity),
            "visibility": str(incident.visibility),
            "started_at": format_datetime(incident.started_at),
            "acknowledged_at": format_datetime(incident.acknowledged_at),
            "resolved_at": format_datetime(incident.resolved_at),
            "impacts": [_IMPACT.to_representation(impact) for impact in incident.impacts.all()],
            "commander": self.get_commander(incident),
            "tags": [tag.name for tag in incident.tags.all()],
        }


class IncidentDetailSerializer(IncidentListSerializer):
    roles = serializers.SerializerMethodField()
    response_due_at = serializers.DateTimeField(read_only=True)
    response_target_breached = serializers.SerializerMethodField()
    time_to_acknowledge_seconds = serializers.SerializerMethodField()
    time_to_resolve_seconds = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()

    class Meta(IncidentListSerializer.Meta):
        fields = IncidentListSerializer.Meta.fields + [
            "summary", "identified_at", "mitigated_at", "roles", "response_due_at", "response_target_breached",
            "time_to_acknowledge_seconds", "time_to_resolve_seconds", "allowed_transitions", "created_at", "updated_at",
        ]  # fmt: skip

    def to_representation(self, incident: Incident) -> dict[str, Any]:
        data = super().to_representation(incident)
        fields = self.fields
        for name in self.Meta.fields[len(IncidentListSerializer.Meta.fields) :]:
            field = fields[name]
            attribute = field.get_attribute(incident)
            data[name] = None if attribute is None else field.to_representation(attribute)
        return data

    @extend_schema_field(RoleSerializer(many=True))
    def get_roles(self, incident: Incident) -> list[dict[str, Any]]:
        return RoleSerializer(getattr(incident, "current_roles", []), many=True).data

    def get_response_target_breached(self, incident: Incident) -> bool:
        return incident.response_target_breached()

    def get_time_to_acknowledge_seconds(self, incident: Incident) -> int | None:
        delta = incident.time_to_acknowledge
        return int(delta.total_seconds()) if delta is not None else None

    def get_time_to_resolve_seconds(self, incident: Incident) -> int | None:
        delta = incident.time_to_resolve
        return int(delta.total_seconds()) if delta is not None else None

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=IncidentStatus.choices)))
    def get_allowed_transitions(self, incident: Incident) -> list[str]:
        from incidents.services import ALLOWED_TRANSITIONS

        return list(ALLOWED_TRANSITIONS[incident.status])


class TimelineEventSerializer(serializers.ModelSerializer):
    author = UserBriefSerializer(allow_null=True)

    class Meta:
        model = TimelineEvent
        fields = ["id", "kind", "author", "occurred_at", "created_at", "pinned", "body", "details"]

    def to_representation(self, event: TimelineEvent) -> dict[str, Any]:
        author = event.author
        return {
            "id": int(event.id),
            "kind": str(event.kind),
            "author": None if author is None else _USER_BRIEF.to_representation(author),
            "occurred_at": format_datetime(event.occurred_at),
            "created_at": format_datetime(event.created_at),
            "pinned": bool(event.pinned),
            "body": str(event.body),
            "details": event.details,
        }


class PublicUpdateComponentSerializer(serializers.Serializer):
    service = serializers.CharField(source="service.slug")
    name = serializers.CharField(source="service.name")
    old_status = serializers.ChoiceField(choices=Impact.choices)
    new_status = serializers.ChoiceField(choices=Impact.choices)


class PublicUpdateSerializer(serializers.ModelSerializer):
    components = PublicUpdateComponentSerializer(many=True)
    author = UserBriefSerializer(allow_null=True)

    class Meta:
        model = PublicUpdate
        fields = ["id", "status", "body", "body_html", "display_at", "created_at", "author", "components"]


# --- incidents: input ----------------------------------------------------------------------
class ImpactInput(serializers.Serializer):
    service = ServiceRefField()
    impact = serializers.ChoiceField(choices=INCIDENT_IMPACTS, allow_null=True)


class IncidentDeclareInput(serializers.Serializer):
    title = CleanCharField(max_length=200)
    severity = SeverityRefField()
    summary = CleanMultilineCharField(required=False, allow_blank=True, default="", max_length=20_000)
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.INTERNAL)
    services = ImpactInput(many=True, required=False, default=list)
    commander = UserRefField(required=False, allow_null=True, default=None)
    tags = serializers.ListField(child=serializers.SlugField(max_length=64), required=False, default=list, max_length=50)
    started_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_services(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        slugs = [item["service"].slug for item in value]
        if len(slugs) != len(set(slugs)):
            raise serializers.ValidationError("A service is listed twice.")
        if any(item["impact"] is None for item in value):
            raise serializers.ValidationError("Give each listed service an impact.")
        return value


class IncidentUpdateInput(serializers.Serializer):
    title = CleanCharField(max_length=200, required=False)
    summary = CleanMultilineCharField(required=False, allow_blank=True, max_length=20_000)
    tags = serializers.ListField(child=serializers.SlugField(max_length=64), required=False, max_length=50)


class StatusInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=IncidentStatus.choices)
    reason = CleanMultilineCharField(required=False, allow_blank=True, default="", max_length=2000)
    note = CleanMultilineCharField(required=False, allow_blank=True, default="", max_length=20_000)


class SeverityInput(serializers.Serializer):
    severity = SeverityRefField()
    reason = CleanMultilineCharField(required=False, allow_blank=True, default="", max_length=2000)


class RoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=IncidentRole.choices)
    user = UserRefField(allow_null=True)


class NoteInput(serializers.Serializer):
    body = CleanMultilineCharField(max_length=20_000)
    pinned = serializers.BooleanField(default=False)


class VisibilityInput(serializers.Serializer):
    visibility = serializers.ChoiceField(choices=Visibility.choices)


class PinInput(serializers.Serializer):
    pinned = serializers.BooleanField()


class PublicUpdateInput(serializers.Serializer):
    template = serializers.CharField(
        required=False, max_length=120, help_text="A message template's id or name: its body and status, filled in, unless overridden here."
    )
    values = serializers.DictField(
        child=CleanCharField(max_length=500), required=False, default=dict,
        help_text='Placeholder values only the author knows, e.g. {"next_update": "2024-05-01T12:30:00Z", "eta": "within the hour"}; they override computed ones.',
    )  # fmt: skip
    timezone = serializers.CharField(required=False, max_length=64, allow_null=True, default=None, help_text="IANA time zone the template's times are written in.")
    body = CleanMultilineCharField(max_length=20_000, required=False)
    status = serializers.ChoiceField(choices=IncidentStatus.choices, required=False, allow_null=True, default=None)
    components = ImpactInput(many=True, required=False, default=list)
    display_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    reason = CleanMultilineCharField(required=False, allow_blank=True, default="", max_length=2000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("template") and not attrs.get("body"):
            raise serializers.ValidationError({"body": ["Give a body, or a template to fill in."]})
        if len(attrs.get("values", {})) > 20:
            raise serializers.ValidationError({"values": ["At most 20 values."]})
        return attrs


# --- maintenance --------------------------------------------------------------------------
class MaintenanceWindowSerializer(serializers.ModelSerializer):
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id", "title", "description", "services", "scheduled_start", "scheduled_end", "status", "visibility",
            "started_at", "completed_at", "created_at", "updated_at",
        ]  # fmt: skip


class MaintenanceRecurrenceSerializer(serializers.ModelSerializer):
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
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


# --- postmortems ---------------------------------------------------------------------------
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

