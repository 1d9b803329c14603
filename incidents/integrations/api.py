"""REST API for integrations, read-only, for managers: their configuration and
their deliveries with status and error, so that a delivery that could not be
processed is visible outside the page too. Payloads come out with their secrets
redacted (`incidents.integrations.redaction`)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from incidents.integrations import selectors
from incidents.integrations.redaction import redact
from incidents.integrations.severities import mapping_for_display
from incidents.models import Delivery, DeliveryStatus, Integration
from portal.errors import ValidationFailed
from portal.models import OrgRole
from portal.pagination import NewestFirstCursorPagination


class IntegrationSerializer(serializers.ModelSerializer):
    severity_mapping = serializers.SerializerMethodField()
    failed_deliveries = serializers.IntegerField(source="failed_count", read_only=True)

    class Meta:
        model = Integration
        fields = [
            "id", "kind", "name", "enabled", "token_hint", "rate_limit_per_minute", "default_action", "resolve_policy",
            "routing_rules", "severity_mapping", "group_by", "failed_deliveries", "created_at", "updated_at",
        ]  # fmt: skip

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_severity_mapping(self, integration: Integration) -> dict[str, Any]:
        return mapping_for_display(integration.severity_mapping)


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


@extend_schema_view(
    list=extend_schema(summary="List integrations"),
    retrieve=extend_schema(summary="Get an integration"),
)
class IntegrationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = IntegrationSerializer
    read_role = OrgRole.MANAGER
    pagination_class = None

    def get_queryset(self) -> QuerySet[Integration]:
        return selectors.integration_list_qs()

    @extend_schema(
        summary="List an integration's deliveries",
        description="Newest first. `status=failed` lists those that could not be processed, with their error.",
        parameters=[OpenApiParameter("status", str, enum=DeliveryStatus.values, description="Only deliveries in this status.")],
        responses=DeliverySerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=DeliveryPagination, serializer_class=DeliverySerializer)
    def deliveries(self, request: Request, pk: str) -> Response:
        integration = self.get_object()
        status = request.query_params.get("status", "")
        if status and status not in DeliveryStatus.values:
            raise ValidationFailed("Unknown delivery status.", fields={"status": [f"Choose one of {DeliveryStatus.values}."]})
        qs = selectors.delivery_list_qs(integration, status=status)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


router = SimpleRouter(trailing_slash=True)
router.register("integrations", IntegrationViewSet, basename="integration")
urlpatterns = router.urls
