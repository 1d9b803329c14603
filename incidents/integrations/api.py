"""REST API for integrations (managers), their deliveries, and alerts (anyone who
reads). Writes go through `incidents.integrations.services`, so the API validates
routing rules and severity mappings exactly as the pages do
(`services._check_config`). Payloads, labels and annotations come out with their
secrets redacted (`incidents.integrations.redaction`). A new or rotated secret is
in that one response only."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from incidents.integrations import selectors, services
from incidents.integrations.pipeline.registry import receiver_url
from incidents.integrations.redaction import redact
from incidents.integrations.severities import mapping_for_display
from incidents.models import (
    Alert,
    AlertAction,
    AlertEvent,
    AlertStatus,
    Delivery,
    DeliveryStatus,
    Incident,
    Integration,
    IntegrationKind,
    ResolvePolicy,
)
from portal.errors import Conflict, ValidationFailed
from portal.models import OrgRole
from portal.pagination import NewestFirstCursorPagination


class IntegrationSerializer(serializers.ModelSerializer):
    severity_mapping = serializers.SerializerMethodField()
    failed_deliveries = serializers.IntegerField(source="failed_count", read_only=True, default=0)
    url = serializers.SerializerMethodField(help_text="Where the sender posts; `<token>` stands for the secret shown once.")

    class Meta:
        model = Integration
        fields = [
            "id", "kind", "name", "enabled", "token_hint", "url", "rate_limit_per_minute", "default_action", "resolve_policy",
            "reopen_window", "routing_rules", "severity_mapping", "group_by", "failed_deliveries", "created_at", "updated_at",
        ]  # fmt: skip

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_severity_mapping(self, integration: Integration) -> dict[str, Any]:
        return mapping_for_display(integration.severity_mapping)

    def get_url(self, integration: Integration) -> str:
        return receiver_url(integration, self.context.get("secret"))


class IntegrationWithSecretSerializer(IntegrationSerializer):
    secret = serializers.SerializerMethodField(help_text="The integration's secret (token or routing key): shown in this response only.")

    class Meta(IntegrationSerializer.Meta):
        fields = [*IntegrationSerializer.Meta.fields, "secret"]

    def get_secret(self, integration: Integration) -> str:
        return str(self.context.get("secret", ""))


class IntegrationChangeSerializer(serializers.Serializer):
    """What a manager may change; kind and the secret are fixed at creation (rotate the secret)."""

    name = serializers.CharField(max_length=120, required=False)
    enabled = serializers.BooleanField(required=False)
    rate_limit_per_minute = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False)
    default_action = serializers.ChoiceField(choices=AlertAction.choices, required=False)
    resolve_policy = serializers.ChoiceField(choices=ResolvePolicy.choices, required=False)
    reopen_window = serializers.DurationField(required=False, help_text="e.g. 00:30:00")
    routing_rules = serializers.JSONField(required=False, help_text='[{"match": {"labels.team": "billing"}, "services": ["api"], "impact": "major_outage", "action": "declare"}]')
    severity_mapping = serializers.JSONField(required=False, help_text='{"field": "labels.severity", "map": {"critical": "SEV1"}, "default": "SEV2"}')
    group_by = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=50)
    signing_secret = serializers.CharField(max_length=256, required=False, help_text="PagerDuty v3 webhooks: the subscription's secret (never shown again).")


class IntegrationCreateSerializer(IntegrationChangeSerializer):
    kind = serializers.ChoiceField(choices=IntegrationKind.choices)
    name = serializers.CharField(max_length=120)


class DeliverySerializer(serializers.ModelSerializer):
    payload = serializers.SerializerMethodField(help_text="The body as received, parsed when it is JSON, secrets redacted.")
    headers = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = ["id", "received_at", "status", "attempts", "error", "processed_at", "external_id", "headers", "payload"]

    @extend_schema_field(OpenApiTypes.ANY)
    def get_payload(self, delivery: Delivery) -> Any:
        return delivery.shown_payload

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_headers(self, delivery: Delivery) -> Any:
        return redact(delivery.headers or {})


class DeliveryPagination(NewestFirstCursorPagination):
    ordering = "-id"


def _reply(serializer: type[serializers.Serializer], instance: Any, code: int = status.HTTP_200_OK, **context: Any) -> Response:
    return Response(serializer(instance, context=context).data, status=code)


@extend_schema_view(
    list=extend_schema(summary="List integrations"),
    retrieve=extend_schema(summary="Get an integration"),
)
class IntegrationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = IntegrationSerializer
    read_role = OrgRole.MANAGER
    write_role = OrgRole.MANAGER
    pagination_class = None

    def get_queryset(self) -> QuerySet[Integration]:
        return selectors.integration_list_qs()

    @extend_schema(
        summary="Create an integration",
        description="The answer holds the secret and the receiver URL with it: they are shown in this response only.",
        request=IntegrationCreateSerializer,
        responses={201: IntegrationWithSecretSerializer},
    )
    def create(self, request: Request) -> Response:
        data = IntegrationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        integration, secret = services.integration_create(by=request.user, **data.validated_data)
        return _reply(IntegrationWithSecretSerializer, integration, status.HTTP_201_CREATED, secret=secret)

    @extend_schema(
        summary="Change an integration",
        description="Routing rules and the severity mapping are validated as on the integration page; a mapping names severities by name or id.",
        request=IntegrationChangeSerializer,
        responses=IntegrationSerializer,
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        integration = self.get_object()
        data = IntegrationChangeSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if not data.validated_data:
            raise ValidationFailed("Nothing to change.", fields={"non_field_errors": ["Give at least one field."]})
        integration = services.integration_update(integration=integration, by=request.user, **data.validated_data)
        return _reply(IntegrationSerializer, integration)

    def _set_enabled(self, request: Request, enabled: bool) -> Response:
        integration = services.integration_update(integration=self.get_object(), by=request.user, enabled=enabled)
        return _reply(IntegrationSerializer, integration)

    @extend_schema(summary="Enable an integration", request=None, responses=IntegrationSerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk: str) -> Response:
        return self._set_enabled(request, True)

    @extend_schema(summary="Disable an integration", description="Its senders are refused (403) until it is enabled.", request=None, responses=IntegrationSerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, pk: str) -> Response:
        return self._set_enabled(request, False)

    @extend_schema(
        summary="Rotate an integration's secret",
        description="The old secret stops working at once; the new one is in this response only.",
        request=None,
        responses=IntegrationWithSecretSerializer,
    )
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, pk: str) -> Response:
        integration, secret = services.integration_rotate_token(integration=self.get_object(), by=request.user)
        return _reply(IntegrationWithSecretSerializer, integration, secret=secret)

    @extend_schema(
        summary="Send a sample alert through an integration",
        description="A realistic payload of the integration's kind, stored and processed like a real delivery.",
        request=None,
        responses={202: DeliverySerializer},
    )
    @action(detail=True, methods=["post"])
    def sample(self, request: Request, pk: str) -> Response:
        delivery = services.integration_send_sample(integration=self.get_object(), by=request.user)
        return _reply(DeliverySerializer, delivery, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="List an integration's deliveries",
        description="Newest first. `status=failed` lists those that could not be processed, with their error.",
        parameters=[OpenApiParameter("status", str, enum=DeliveryStatus.values, description="Only deliveries in this status.")],
        responses=DeliverySerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=DeliveryPagination, serializer_class=DeliverySerializer)
    def deliveries(self, request: Request, pk: str) -> Response:
        integration = self.get_object()
        status_filter = request.query_params.get("status", "")
        if status_filter and status_filter not in DeliveryStatus.values:
            raise ValidationFailed("Unknown delivery status.", fields={"status": [f"Choose one of {DeliveryStatus.values}."]})
        qs = selectors.delivery_list_qs(integration, status=status_filter)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(
        summary="Retry a failed delivery",
        description="Queues it again; a delivery that is not failed is a 409. Processing it again changes nothing already applied.",
        parameters=[OpenApiParameter("delivery_id", int, OpenApiParameter.PATH)],
        request=None,
        responses={202: DeliverySerializer},
    )
    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_id>[0-9]{1,18})/retry")
    def retry_delivery(self, request: Request, pk: str, delivery_id: str) -> Response:
        integration = self.get_object()
        delivery = get_object_or_404(Delivery, pk=int(delivery_id), integration=integration)
        if not services.delivery_retry(delivery=delivery, by=request.user):
            raise Conflict(f"Only a failed delivery can be retried; this one is {delivery.status}.", current=delivery.status)
        delivery.refresh_from_db()
        return _reply(DeliverySerializer, delivery, status.HTTP_202_ACCEPTED)


# --- Alerts ---------------------------------------------------------------------------


class AlertSerializer(serializers.ModelSerializer):
    integration = serializers.SerializerMethodField()
    incident = serializers.SerializerMethodField(help_text="The incident's reference, e.g. INC-42.")
    labels = serializers.DictField(source="shown_labels", child=serializers.CharField(), read_only=True)
    annotations = serializers.DictField(source="shown_annotations", child=serializers.CharField(), read_only=True)
    source_url = serializers.CharField(source="safe_source_url", read_only=True)

    class Meta:
        model = Alert
        fields = ["id", "integration", "fingerprint", "group_key", "status", "title", "severity", "labels", "annotations",
                  "source_url", "starts_at", "ends_at", "last_received_at", "incident"]  # fmt: skip

    @extend_schema_field({"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "kind": {"type": "string"}}})
    def get_integration(self, alert: Alert) -> dict[str, Any]:
        return {"id": alert.integration_id, "name": alert.integration.name, "kind": alert.integration.kind}

    @extend_schema_field({"type": "string", "nullable": True})
    def get_incident(self, alert: Alert) -> str | None:
        return alert.incident.reference if alert.incident is not None else None


class AlertEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertEvent
        fields = ["id", "status", "kind", "occurred_at", "delivery", "details"]


class AlertDeliverySerializer(serializers.ModelSerializer):
    payload = serializers.SerializerMethodField(help_text="Secrets redacted.")

    class Meta:
        model = Delivery
        fields = ["id", "received_at", "status", "payload"]

    @extend_schema_field(OpenApiTypes.ANY)
    def get_payload(self, delivery: Delivery) -> Any:
        return delivery.shown_payload


class AlertDetailSerializer(AlertSerializer):
    history = AlertEventSerializer(source="events", many=True, read_only=True)
    deliveries = serializers.SerializerMethodField()

    class Meta(AlertSerializer.Meta):
        fields = [*AlertSerializer.Meta.fields, "history", "deliveries"]

    @extend_schema_field(AlertDeliverySerializer(many=True))
    def get_deliveries(self, alert: Alert) -> Any:
        return AlertDeliverySerializer(selectors.alert_deliveries(alert), many=True).data


class AlertPagination(NewestFirstCursorPagination):
    ordering = ("-last_received_at", "-id")


ALERT_STATUSES = ["open", *AlertStatus.values]


@extend_schema_view(
    list=extend_schema(
        summary="List alerts",
        description="Newest first, cursor-paginated. Labels and annotations are shown with secrets redacted.",
        parameters=[
            OpenApiParameter("status", str, enum=ALERT_STATUSES, description="`open`: firing or acknowledged."),
            OpenApiParameter("integration", int, description="Integration id."),
            OpenApiParameter("severity", str, description="The sender's severity value, e.g. critical."),
            OpenApiParameter("incident", str, description="Incident reference (INC-42) or id."),
            OpenApiParameter("q", str, description="Words in the title, or an exact fingerprint."),
        ],
    ),
    retrieve=extend_schema(summary="Get an alert with its history and the payloads that touched it", responses=AlertDetailSerializer),
)
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AlertSerializer
    pagination_class = AlertPagination

    def get_serializer_class(self) -> type:
        return AlertDetailSerializer if self.action == "retrieve" else AlertSerializer

    def get_queryset(self) -> QuerySet[Alert]:
        if self.action == "retrieve":
            return selectors.alert_detail_qs()
        params = self.request.query_params
        fields: dict[str, list[str]] = {}
        status_filter = params.get("status", "")
        if status_filter and status_filter not in ALERT_STATUSES:
            fields["status"] = [f"Choose one of {ALERT_STATUSES}."]
        integration = params.get("integration", "")
        if integration and not (integration.isascii() and integration.isdigit() and len(integration) < 18):
            fields["integration"] = ["An integration id."]
        incident = params.get("incident", "")
        incident_id = Incident.id_from_reference(incident) if incident else None
        if incident and incident_id is None:
            fields["incident"] = ["An incident reference (INC-42) or id."]
        if fields:
            raise ValidationFailed("Bad filter.", fields=fields)
        return selectors.alert_list_qs(
            status=status_filter,
            integration_id=int(integration) if integration else None,
            severity=params.get("severity", "")[:32],
            q=params.get("q", "")[:200],
            incident_id=incident_id,
        )

    def get_object(self) -> Alert:
        pk = str(self.kwargs["pk"])
        if not (pk.isascii() and pk.isdigit() and len(pk) < 18):
            raise Http404
        return get_object_or_404(self.get_queryset(), pk=int(pk))


router = SimpleRouter(trailing_slash=True)
router.register("integrations", IntegrationViewSet, basename="integration")
router.register("alerts", AlertViewSet, basename="alert")
urlpatterns = router.urls
