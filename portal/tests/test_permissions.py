"""Each organisation role against each kind of endpoint, with the fixed cast."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from portal.models import ApiToken, TokenScope
from portal.tests.factories import declare

pytestmark = pytest.mark.django_db


def _as(cast: Any, who: str) -> APIClient:
    client = APIClient()
    if who != "anonymous":
        user = getattr(cast, who)
        _, raw = ApiToken.issue(user=user, name="t", scope=TokenScope.WRITE)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


READ_PATHS = ["/api/v1/incidents/", "/api/v1/services/", "/api/v1/severities/", "/api/v1/service-groups/",
              "/api/v1/maintenance-windows/", "/api/v1/postmortems/", "/api/v1/action-items/", "/api/v1/teams/",
              "/api/v1/users/", "/api/v1/message-templates/"]  # fmt: skip


@pytest.mark.parametrize("path", READ_PATHS)
@pytest.mark.parametrize(("who", "expected"), [("viewer", 200), ("responder", 200), ("owner", 200), ("anonymous", 401),
                                                ("outsider", 401)])
def test_reading(cast, path: str, who: str, expected: int) -> None:
    assert _as(cast, who).get(path).status_code == expected


@pytest.mark.parametrize(("who", "expected"), [("viewer", 403), ("responder", 201), ("owner", 201), ("anonymous", 401), ("outsider", 401)])
def test_declaring_needs_the_responder_role(cast, who: str, expected: int) -> None:
    response = _as(cast, who).post("/api/v1/incidents/", {"title": "x", "severity": "SEV2"}, format="json")
    assert response.status_code == expected
    if expected >= 400:
        assert "error" in response.json()


@pytest.mark.parametrize("action", ["status", "severity", "roles", "notes", "impacts", "visibility", "acknowledge"])
@pytest.mark.parametrize(("who", "allowed"), [("viewer", False), ("responder", True), ("owner", True)])
def test_incident_actions_need_the_responder_role(cast, action: str, who: str, allowed: bool) -> None:
    incident = declare(by=None)
    bodies = {
        "status": {"status": "identified"},
        "severity": {"severity": "SEV1"},
        "roles": {"role": "commander", "user": cast.responder.pk},
        "notes": {"body": "n"},
        "impacts": {"service": "api", "impact": "partial_outage"},
        "visibility": {"visibility": "public"},
        "acknowledge": {},
    }
    response = _as(cast, who).post(f"/api/v1/incidents/{incident.reference}/{action}/", bodies[action], format="json")
    assert (response.status_code in (200, 201)) is allowed, response.json()
    if not allowed:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(("who", "expected"), [("viewer", 403), ("responder", 403), ("owner", 201)])
def test_configuration_needs_the_manager_role(cast, who: str, expected: int) -> None:
    client = _as(cast, who)
    assert client.post("/api/v1/services/", {"slug": "search", "name": "Search"}, format="json").status_code == expected
    assert client.post("/api/v1/service-groups/", {"slug": "edge", "name": "Edge"}, format="json").status_code == expected
    severity = {"name": "SEV5", "rank": 5, "colour": "#aaaaaa", "response_target_seconds": 3600 * 48}
    assert client.post("/api/v1/severities/", severity, format="json").status_code == expected


def test_a_manager_renames_and_retargets_the_severity_scheme(cast) -> None:
    client = _as(cast, "owner")
    sev1 = client.get("/api/v1/severities/").json()[0]
    assert (sev1["name"], sev1["response_target_seconds"]) == ("SEV1", 900)
    response = client.patch(f"/api/v1/severities/{sev1['id']}/", {"name": "P0", "response_target_seconds": 600}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "P0"
    declared = client.post("/api/v1/incidents/", {"title": "x", "severity": "P0"}, format="json").json()
    assert declared["severity"]["name"] == "P0"
    bad = client.patch(f"/api/v1/severities/{sev1['id']}/", {"colour": "red"}, format="json")
    assert bad.status_code == 400 and "colour" in bad.json()["error"]["fields"]


def test_a_service_with_group_dependencies_and_links(cast) -> None:
    client = _as(cast, "owner")
    client.post("/api/v1/service-groups/", {"slug": "edge", "name": "Edge"}, format="json")
    body = {"slug": "search", "name": "Search", "group": "edge", "depends_on": ["api"], "visibility": "internal",
            "links": [{"kind": "dashboard", "label": "Grafana", "url": "https://grafana.example.com/d/search"}]}  # fmt: skip
    created = client.post("/api/v1/services/", body, format="json")
    assert created.status_code == 201, created.json()
    service = client.get("/api/v1/services/search/").json()
    assert service["group"] == "edge" and service["depends_on"] == ["api"] and service["status"] == "operational"
    assert service["links"][0]["label"] == "Grafana"
    self_dep = client.patch("/api/v1/services/search/", {"depends_on": ["search"]}, format="json")
    assert self_dep.status_code == 400


def test_service_status_is_the_worst_open_impact(cast) -> None:
    declare(by=None, impacts={cast.service: "degraded_performance"})
    declare(by=None, impacts={cast.service: "major_outage"})
    statuses = {s["slug"]: s["status"] for s in _as(cast, "viewer").get("/api/v1/services/").json()["results"]}
    assert statuses == {"api": "major_outage", "billing-worker": "operational"}


def test_a_read_only_token_cannot_write(cast) -> None:
    _, raw = ApiToken.issue(user=cast.owner, name="ro", scope=TokenScope.READ)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/incidents/").status_code == 200
    response = client.post("/api/v1/incidents/", {"title": "x", "severity": "SEV2"}, format="json")
    assert response.status_code == 403 and "read-only" in response.json()["error"]["message"]
