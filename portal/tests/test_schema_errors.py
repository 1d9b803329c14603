"""The OpenAPI schema describes the answers the API gives."""

from __future__ import annotations

import pytest
import yaml
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client: Client) -> dict:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_impact_enum_holds_every_impact_and_incident_impacts_are_their_own_enum(schema) -> None:
    enums = schema["components"]["schemas"]
    assert enums["ImpactEnum"]["enum"] == ["operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"]
    assert "operational" not in enums["IncidentImpactEnum"]["enum"]
    service_status = enums["Service"]["properties"]["status"]
    assert service_status.get("$ref") == "#/components/schemas/ImpactEnum" or "ImpactEnum" in str(service_status)


def test_every_operation_documents_its_errors_in_the_one_shape(schema) -> None:
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["properties"]["error"]["required"] == ["code", "message"]
    paths = schema["paths"]
    for path, item in paths.items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert {"401", "403"} <= codes, (method, path)
            if method in ("post", "patch", "put", "delete"):
                assert {"400", "409"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            for code in codes & {"400", "401", "403", "404", "409"}:
                content = operation["responses"][code]["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/Error"}, (method, path, code)
    assert "404" in paths["/api/v1/incidents/"]["get"]["responses"]  # an unknown cursor
    assert "400" in paths["/api/v1/incidents/"]["get"]["responses"]  # a bad filter


def test_public_updates_are_documented_as_the_plain_list_they_are(schema, api, cast) -> None:
    get = schema["paths"]["/api/v1/incidents/{id}/updates/"]["get"]
    body = get["responses"]["200"]["content"]["application/json"]["schema"]
    assert body["type"] == "array"
    assert not [p for p in get.get("parameters", []) if p["in"] == "query"]
