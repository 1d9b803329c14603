"""Input and output shapes of the runbooks API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.api.serializers import ServiceRefField, UserBriefSerializer
from incidents.models import Incident, Service, Severity
from runbooks.models import Checklist, Cluster, DueFrom, HttpEndpoint, Run, Runbook, Step, StepKind, StepRun


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = Step
        fields = ["id", "order", "kind", "title", "instructions", "command", "action", "parameters", "requires_approval",
                  "dangerous", "continue_on_failure", "timeout_seconds", "due_minutes", "due_from"]  # fmt: skip


class RunbookSerializer(serializers.ModelSerializer):
    services: serializers.SlugRelatedField[Service] = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    steps = StepSerializer(many=True, read_only=True)
    tags = serializers.ListField(child=serializers.CharField())
    alert_names = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Runbook
        fields = ["id", "title", "description", "description_html", "services", "tags", "alert_names", "steps",
                  "created_at", "updated_at"]  # fmt: skip


class StepInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=StepKind.choices, default=StepKind.MANUAL)
    title = serializers.CharField(max_length=200)
    instructions = serializers.CharField(required=False, allow_blank=True, default="", max_length=20_000)
    command = serializers.CharField(required=False, allow_blank=True, default="", max_length=20_000)
    action = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    parameters = serializers.DictField(required=False, default=dict)
    requires_approval = serializers.BooleanField(default=False)
    dangerous = serializers.BooleanField(default=False)
    continue_on_failure = serializers.BooleanField(default=False)
    timeout_seconds = serializers.IntegerField(min_value=1, max_value=3600, default=300)
    due_minutes = serializers.IntegerField(min_value=0, max_value=43_200, required=False, allow_null=True, default=None,
                                           help_text="A checklist item's target in minutes (manual steps only).")  # fmt: skip
    due_from = serializers.ChoiceField(choices=DueFrom.choices, default=DueFrom.START)


class RunbookInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=20_000)
    services = serializers.ListField(child=ServiceRefField(), required=False, default=list, max_length=100)
    tags = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list, max_length=50)
    alert_names = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list, max_length=50)
    steps = StepInput(many=True, max_length=200)  # type: ignore[call-arg]  # ListSerializer takes max_length


class ImportInput(serializers.Serializer):
    markdown = serializers.CharField(max_length=500_000, trim_whitespace=False)


class ImportPreviewStep(serializers.Serializer):
    kind = serializers.CharField()
    title = serializers.CharField()
    command = serializers.CharField()
    instructions = serializers.CharField()
    action = serializers.CharField()
    parameters = serializers.DictField()
    requires_approval = serializers.BooleanField()
    dangerous = serializers.BooleanField()
    line = serializers.IntegerField()


class ImportPreviewRunbook(serializers.Serializer):
    title = serializers.CharField()
    description = serializers.CharField()
    alert_names = serializers.ListField(child=serializers.CharField())
    tags = serializers.ListField(child=serializers.CharField())
    services = serializers.ListField(child=serializers.CharField())
    unknown_services = serializers.ListField(child=serializers.CharField())
    automated = serializers.IntegerField()
    manual = serializers.IntegerField()
    steps = ImportPreviewStep(many=True)


class ImportPreview(serializers.Serializer):
    runbooks = ImportPreviewRunbook(many=True)


@extend_schema_field(OpenApiTypes.STR)
class IncidentRefField(serializers.Field):
    """An incident by reference (INC-42) or id."""

    default_error_messages = {"does_not_exist": "No incident {value}."}

    def to_internal_value(self, data: Any) -> Incident:
        pk = Incident.id_from_reference(str(data)) if isinstance(data, (str, int)) and not isinstance(data, bool) else None
        incident = Incident.objects.filter(pk=pk).first() if pk is not None else None
        if incident is None:
            self.fail("does_not_exist", value=str(data)[:40])
        return incident

    def to_representation(self, value: Any) -> str:
        return f"INC-{value.pk}"


class RunStartInput(serializers.Serializer):
    incident = IncidentRefField(required=False, allow_null=True, default=None, help_text="INC-42; leave out for a drill.")
    cluster = serializers.SlugRelatedField(slug_field="name", queryset=Cluster.objects.all(), required=False, allow_null=True,
                                           default=None)  # fmt: skip
    namespace = serializers.CharField(required=False, allow_blank=True, default="", max_length=63)
    dry_run = serializers.BooleanField(default=False)


class StepRunSerializer(serializers.ModelSerializer):
    approved_by = UserBriefSerializer(read_only=True)
    finished_by = UserBriefSerializer(read_only=True)

    class Meta:
        model = StepRun
        fields = ["id", "order", "kind", "title", "instructions", "command", "action", "parameters", "requires_approval",
                  "dangerous", "continue_on_failure", "timeout_seconds", "state", "attempt", "idempotency_key",
                  "claimed_at", "claimed_by", "approved_by", "approved_at", "finished_by", "started_at", "finished_at",
                  "before", "after", "output", "error"]  # fmt: skip


class RunSerializer(serializers.ModelSerializer):
    runbook = serializers.SerializerMethodField()
    incident = serializers.SerializerMethodField()
    cluster: serializers.SlugRelatedField[Cluster] = serializers.SlugRelatedField(slug_field="name", read_only=True)
    started_by = UserBriefSerializer(read_only=True)
    steps = StepRunSerializer(source="step_runs", many=True, read_only=True)

    class Meta:
        model = Run
        fields = ["id", "runbook", "incident", "cluster", "namespace", "dry_run", "state", "started_by", "started_at",
                  "finished_at", "steps"]  # fmt: skip

    def get_runbook(self, run: Run) -> dict[str, Any]:
        return {"id": run.runbook_id, "title": run.runbook.title}

    def get_incident(self, run: Run) -> str | None:
        return f"INC-{run.incident_id}" if run.incident_id else None


class StepCompleteInput(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["succeeded", "failed", "skipped"])
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class RunCancelInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class ClusterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cluster
        fields = ["id", "name", "context", "in_cluster", "namespaces"]


class ActionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    mutating = serializers.BooleanField()
    schema = serializers.DictField()


class HttpEndpointSerializer(serializers.ModelSerializer):
    headers = serializers.DictField(child=serializers.CharField(max_length=4096), write_only=True, required=False, default=dict,
                                    help_text="Sent with every request (a token); never shown back.")  # fmt: skip
    header_names = serializers.SerializerMethodField()

    class Meta:
        model = HttpEndpoint
        fields = ["id", "name", "url", "headers", "header_names", "timeout_seconds"]

    def get_header_names(self, obj: HttpEndpoint) -> list[str]:
        return sorted(obj.headers or {})


class ChecklistSerializer(serializers.ModelSerializer):
    runbook = serializers.PrimaryKeyRelatedField(queryset=Runbook.objects.all())
    severity = serializers.SlugRelatedField(slug_field="name", queryset=Severity.objects.all())
    service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all(), required=False, allow_null=True)

    class Meta:
        model = Checklist
        fields = ["id", "runbook", "severity", "service"]
        validators: list[Any] = []  # attaching twice is a no-op (checklist_attach), not an error
