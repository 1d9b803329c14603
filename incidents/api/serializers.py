"""Input and output serializers of the incidents API, kept apart.

Output serializers read what the selectors prefetch; input serializers only
validate shapes and resolve references, the services do the work.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents import templating
from incidents.api.fields import SlugRef, is_number, refuse_unstorable
from incidents.models import (
    Impact,
    Incident,
    IncidentRole,
    IncidentStatus,
    MessageTemplate,
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

    def to_representation(self, value: Any) -> str:
        return str(value.name)


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
            users = self.get_queryset()
            if users is None:  # never: __init__ sets one
                users = User.objects.filter(is_active=True)
            user = users.filter(username=data[:150]).first()
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
    tags: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

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
        # By hand, like the list's: `self.fields` would deep-copy every declared
        # field (and RoleSerializer its own) on each request.
        data = super().to_representation(incident)
        data["summary"] = str(incident.summary)
        data["identified_at"] = format_datetime(incident.identified_at)
        data["mitigated_at"] = format_datetime(incident.mitigated_at)
        data["roles"] = self.get_roles(incident)
        data["response_due_at"] = format_datetime(incident.response_due_at)
        data["response_target_breached"] = self.get_response_target_breached(incident)
        data["time_to_acknowledge_seconds"] = self.get_time_to_acknowledge_seconds(incident)
        data["time_to_resolve_seconds"] = self.get_time_to_resolve_seconds(incident)
        data["allowed_transitions"] = self.get_allowed_transitions(incident)
        data["created_at"] = format_datetime(incident.created_at)
        data["updated_at"] = format_datetime(incident.updated_at)
        return data

    @extend_schema_field(RoleSerializer(many=True))
    def get_roles(self, incident: Incident) -> list[dict[str, Any]]:
        return [
            {"role": str(a.role), "user": _USER_BRIEF.to_representation(a.user), "started_at": format_datetime(a.started_at)}
            for a in getattr(incident, "current_roles", [])
        ]

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
