"""REST API v1 for managers: status page subscribers (list, CSV export and import) and
the message templates subscribers receive. Mounted by the on-call router."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.models import MessageTemplate, StatusSubscriber, SubscriberMessage
from incidents.notify import subscriber_io
from portal.errors import ValidationFailed
from portal.fields import CleanTextModelSerializer
from portal.models import OrgRole
from portal.parsers import JSONParser


class CSVParser(parsers.BaseParser):
    """A CSV body, handed over as bytes (the import decodes and checks it)."""

    media_type = "text/csv"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return stream.read(subscriber_io.MAX_BYTES + 1)


class StatusSubscriberSerializer(CleanTextModelSerializer):
    components: serializers.Field = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    confirmed = serializers.SerializerMethodField()

    class Meta:
        model = StatusSubscriber
        fields = ["id", "kind", "address", "components", "confirmed", "created_at", "confirmed_at", "unsubscribed_at"]
        read_only_fields = fields

    def get_confirmed(self, subscriber: StatusSubscriber) -> bool:
        return subscriber.confirmed_at is not None


ImportResultSerializer = inline_serializer("SubscriberImportResult", fields={
    "confirmed": serializers.IntegerField(help_text="Imported as confirmed (the file says they confirmed elsewhere)."),
    "invited": serializers.IntegerField(help_text="Sent a confirmation email (double opt-in)."),
    "already_subscribed": serializers.IntegerField(),
    "unsubscribed": serializers.IntegerField(help_text="Left before: not subscribed again."),
    "duplicates": serializers.IntegerField(help_text="Repeated in the file."),
    "errors": serializers.ListField(child=serializers.CharField()),
})


class StatusSubscriberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Status page subscribers; managers only (addresses are never shown publicly)."""

    serializer_class = StatusSubscriberSerializer
    read_role = OrgRole.MANAGER
    write_role = OrgRole.MANAGER
    filterset_fields = ["kind"]

    def get_queryset(self) -> QuerySet[StatusSubscriber]:
        return StatusSubscriber.objects.prefetch_related("components").order_by("-created_at", "-id")

    @extend_schema(summary="Export email subscribers as CSV (email, components, confirmed)",
                   responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="email,components,confirmed")})
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> HttpResponse:
        response = HttpResponse(subscriber_io.export_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="status-subscribers.csv"'
        return response

    @extend_schema(
        summary="Import email subscribers from CSV: every row or none",
        description="Columns email (required), components (public service slugs separated by ;), confirmed (yes/no). "
                    "Rows marked confirmed are active at once; the others are sent a confirmation email. A 400 lists "
                    "each wrong row, and nothing is imported then.",
        request={"text/csv": OpenApiTypes.STR,
                 "multipart/form-data": inline_serializer("SubscriberImportFile", fields={"file": serializers.FileField()})},
        responses={200: ImportResultSerializer},
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[CSVParser, parsers.MultiPartParser, JSONParser])
    def import_csv(self, request: Request) -> Response:
        data: Any = request.data
        if isinstance(data, bytes):
            raw: bytes | str = data
        elif hasattr(data, "get") and data.get("file") is not None:
            raw = data.get("file").read(subscriber_io.MAX_BYTES + 1)
        else:
            raise ValidationFailed("Send the CSV as the body (text/csv) or as the file field of a form.", fields={"file": ["Required."]})
        result = subscriber_io.subscribers_import(data=raw, by=request.user)
        return Response(result.as_dict(), status=status.HTTP_200_OK)


class SubscriberMessageSerializer(CleanTextModelSerializer):
    template = serializers.SlugRelatedField(slug_field="name", queryset=MessageTemplate.objects.all())

    class Meta:
        model = SubscriberMessage
        fields = ["id", "kind", "template"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs.get("kind", getattr(self.instance, "kind", ""))
        template = attrs.get("template", getattr(self.instance, "template", None))
        if template is not None and template.kind != kind:
            raise serializers.ValidationError({"template": [f"Choose a template of kind {kind}."]})
        return attrs


class SubscriberMessageViewSet(viewsets.ModelViewSet):
    """Which message template subscribers receive per kind of public change (none: the built-in wording)."""

    serializer_class = SubscriberMessageSerializer
    read_role = OrgRole.MANAGER
    write_role = OrgRole.MANAGER
    pagination_class = None
    queryset = SubscriberMessage.objects.select_related("template").order_by("kind")

