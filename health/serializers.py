"""API shapes of the health app. Input and output apart; credentials are write-only."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from health import selectors
from health.models import OnRecovery, Outcome, Policy, Probe, ProbeKind, ProbeResult, ProbeRollup


class ProbeStateSerializer(serializers.Serializer):
    location = serializers.CharField()
    status = serializers.ChoiceField(choices=Outcome.choices)
    last_result_at = serializers.DateTimeField(allow_null=True)


class ProbeSerializer(serializers.ModelSerializer):
    service: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    severity: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    locations = serializers.SerializerMethodField()
    credentials_set = serializers.SerializerMethodField(help_text="Which credentials are stored; their values are never returned.")
    states = serializers.SerializerMethodField()
    heartbeat_url = serializers.SerializerMethodField()

    class Meta:
        model = Probe
        fields = ["id", "service", "name", "kind", "target", "credentials_set", "conditions", "interval_seconds", "timeout_seconds",
                  "failure_threshold", "success_threshold", "locations", "quorum", "policy", "severity", "on_recovery", "enabled",
                  "status", "status_changed_at", "states", "heartbeat_url", "created_at", "updated_at"]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_locations(self, probe: Probe) -> list[str]:
        return [location.name for location in probe.locations.all()]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_credentials_set(self, probe: Probe) -> list[str]:
        return selectors.credentials_set(probe)

    @extend_schema_field(ProbeStateSerializer(many=True))
    def get_states(self, probe: Probe) -> list[dict[str, Any]]:
        return selectors.state_rows(probe)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_heartbeat_url(self, probe: Probe) -> str | None:
        """The push URL with its token: in the response that created the probe only."""
        token = getattr(probe, "new_heartbeat_token", None)
        return f"{settings.PUBLIC_URL.rstrip('/')}/health/heartbeat/{token}" if token else None


class ProbeInput(serializers.Serializer):
    """Types only: the service `probe_create`/`probe_update` validates the whole
    configuration (each kind's target, conditions with their columns, quorum)."""

    service = serializers.CharField(help_text="Service slug.")
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=ProbeKind.choices)
    target = serializers.JSONField(required=False, help_text="The kind's settings (url, host, port, ...).")
    credentials = serializers.JSONField(required=False, write_only=True,
                                        help_text="Passwords, secret headers, kubeconfig. Write-only; on update keys merge, null removes.")
    conditions = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)
    interval_seconds = serializers.IntegerField(required=False)
    timeout_seconds = serializers.FloatField(required=False)
    failure_threshold = serializers.IntegerField(required=False)
    success_threshold = serializers.IntegerField(required=False)
    locations = serializers.ListField(child=serializers.CharField(), required=False)
    quorum = serializers.IntegerField(required=False)
    policy = serializers.ChoiceField(choices=Policy.choices, required=False)
    severity = serializers.CharField(required=False, allow_blank=True, help_text="Severity name; required for policy=declare.")
    on_recovery = serializers.ChoiceField(choices=OnRecovery.choices, required=False)
    enabled = serializers.BooleanField(required=False)


class ProbeResultSerializer(serializers.ModelSerializer):
    location: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = ProbeResult
        fields = ["id", "location", "scheduled_at", "started_at", "outcome", "response_time_ms", "message", "evaluations", "values"]
        read_only_fields = fields


class EvaluationSerializer(serializers.Serializer):
    condition = serializers.CharField()
    level = serializers.ChoiceField(choices=["down", "degraded"])
    ok = serializers.BooleanField()
    actual = serializers.JSONField(allow_null=True)
    error = serializers.CharField(required=False)


class RunNowSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    response_time_ms = serializers.FloatField(allow_null=True)
    message = serializers.CharField(allow_blank=True)
    started_at = serializers.DateTimeField()
    evaluations = EvaluationSerializer(many=True)
    values = serializers.JSONField()


class ProbeRollupSerializer(serializers.ModelSerializer):
    location: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="name", read_only=True)
    uptime = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = ProbeRollup
        fields = ["location", "period", "bucket", "total", "up", "degraded", "down", "uptime", "p50_ms", "p95_ms", "p99_ms"]
        read_only_fields = fields
