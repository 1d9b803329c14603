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


# --- the one error shape, on every operation ------------------------------------------
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The one error body of the API (see portal.api_errors).",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Machine-readable, e.g. validation_failed, not_found, invalid_transition."},
                "message": {"type": "string", "description": "A sentence for people."},
                "fields": {
                    "type": "object",
                    "description": "Per-field messages of a validation error.",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
            "required": ["code", "message"],
            "additionalProperties": True,  # details such as `allowed` on an invalid transition
        }
    },
    "required": ["error"],
}
ERROR_DESCRIPTIONS = {
    "400": "The request is not valid: a malformed body or parameter, or a field error.",
    "401": "Not authenticated: no valid session or API token.",
    "403": "Authenticated, but the role or token scope does not allow this.",
    "404": "No such object, or an unknown page or cursor.",
    "409": "The change conflicts with the current state (an invalid transition, a row still in use).",
}
WRITES = ("post", "put", "patch", "delete")


def _error_statuses(method: str, operation: dict[str, Any]) -> list[str]:
    parameters = operation.get("parameters", [])
    in_path = any(p.get("in") == "path" for p in parameters)
    in_query = {p.get("name") for p in parameters if p.get("in") == "query"}
    statuses = ["401", "403"]
    if "requestBody" in operation or in_query:
        statuses.append("400")
    if in_path or in_query & {"page", "cursor"}:
        statuses.append("404")
    if method in WRITES:
        statuses += ["400", "409"]
    return sorted(set(statuses))


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: document the error answers of every
    operation, in the one error shape, where a view has not described them itself."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for code in _error_statuses(method, operation):
                responses.setdefault(code, {"description": ERROR_DESCRIPTIONS[code], "content": {"application/json": {"schema": ref}}})
    return result
