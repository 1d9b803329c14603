"""`GET /api/v1/config/`, `POST /api/v1/config/apply` (a dry run unless
`dry_run=false`) and `GET /api/v1/config/schema.json`. Managers only."""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.config import runner
from portal.errors import ValidationFailed
from portal.models import OrgRole


class ApplyInput(serializers.Serializer):
    document = serializers.JSONField(help_text="The configuration document, as JSON (the same shape as the YAML).", required=False)
    yaml = serializers.CharField(required=False, max_length=runner.MAX_DOCUMENT, help_text="Or the document as YAML text.")
    dry_run = serializers.BooleanField(default=True, help_text="Only show the plan (the default).")
    prune = serializers.BooleanField(default=False, help_text="Delete objects of the listed sections the document does not name.")


class PlanSerializer(serializers.Serializer):
    applied = serializers.BooleanField()
    summary = serializers.DictField(child=serializers.IntegerField())
    changes = serializers.ListField(child=serializers.DictField())


class ConfigView(APIView):
    read_role = OrgRole.MANAGER
    write_role = OrgRole.MANAGER

    @extend_schema(summary="Export the configuration", description="The document `apply` takes back unchanged (secrets are never in it).",
                   responses={200: OpenApiTypes.OBJECT})  # fmt: skip
    def get(self, request: Request) -> Response:
        return Response(runner.export())


class ConfigApplyView(APIView):
    read_role = OrgRole.MANAGER
    write_role = OrgRole.MANAGER

    @extend_schema(
        summary="Plan, and apply, a configuration document",
        description="A dry run unless `dry_run` is false. An invalid document is a 400 listing every error by path in `fields.document`; nothing is applied.",
        request=ApplyInput,
        responses={200: PlanSerializer},
    )
    def post(self, request: Request) -> Response:
        data = ApplyInput(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        if ("document" in given) == ("yaml" in given):
            raise ValidationFailed("Give the document as `document` (JSON) or `yaml` (text).", fields={"document": ["Give one of document or yaml."]})
        try:
            document = given["document"] if "document" in given else runner.load(given["yaml"])
            result = runner.run(document, dry_run=given["dry_run"], prune=given["prune"], by=request.user)
        except runner.DocumentInvalid as exc:
            raise ValidationFailed(f"The document is not valid ({len(exc.errors)} errors); nothing was applied.", fields={"document": exc.errors}) from None
        return Response(result.as_dict())


class ConfigSchemaView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(summary="The configuration document's JSON Schema", auth=[], responses={200: OpenApiTypes.OBJECT},
                   parameters=[OpenApiParameter("format", str, exclude=True)])  # fmt: skip
    def get(self, request: Request) -> Response:
        return Response(runner.schema())


urlpatterns = [
    path("config/", ConfigView.as_view(), name="config"),
    path("config/apply", ConfigApplyView.as_view(), name="config-apply"),
    path("config/schema.json", ConfigSchemaView.as_view(), name="config-schema"),
]
