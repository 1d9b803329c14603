"""OpenAPI descriptions for the portal's own authentication and fields."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "portal.authentication.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token created at /api/v1/tokens/: `Authorization: Bearer ipt_<id>_<secret>`.",
        }


class SeverityRefFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "incidents.api.serializers.SeverityRefField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = build_basic_type(OpenApiTypes.STR)
        assert schema is not None
        schema["description"] = "Severity name (e.g. SEV1) or id."
        return schema
