"""The API's hot reads (incident list, detail, timeline) through the whole stack
with a real API token: how many statements each costs, who may read them, and
that a write shows in the writer's next read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from incidents import services
from portal.models import ApiToken, TokenScope
from portal.tests.factories import ServiceFactory, declare

pytestmark = pytest.mark.django_db


def token_client(user: Any, scope: str = TokenScope.READ) -> Client:
    _, raw = ApiToken.issue(user=user, name="reads", scope=scope)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.get("/api/v1/severities/")  # the first use records last use (a write), once a minute at most
    return client


@pytest.fixture
def busy(cast: Any) -> list[Any]:
    """A page's worth of incidents, each with impacts, a commander, another role and tags."""
    web = ServiceFactory(slug="web", name="Web")
    made = []
    for i in range(30):
        incident = declare(
            by=cast.owner, title=f"Incident {i}", sev="SEV1" if i % 3 == 0 else "SEV3", commander=cast.responder,
            impacts={cast.service: "major_outage", web: "degraded_performance"}, tags=["db", f"t{i % 4}"],
        )  # fmt: skip
        services.incident_assign_role(incident=incident, role="scribe", user=cast.owner, by=cast.owner)
        services.incident_add_note(incident=incident, by=cast.responder, body=f"note {i}")
        made.append(incident)
    return made


@pytest.mark.parametrize(
    ("path", "most"),
    [
        # token (with its owner and role) + the page + impacts, commanders and tags in one statement
        ("/api/v1/incidents/", 3),
        ("/api/v1/incidents/?open=true", 3),
        ("/api/v1/incidents/?page_size=100", 3),
        # ... + the severity names resolved on the small severity table
        ("/api/v1/incidents/?severity=SEV1", 4),
    ],
)
def test_an_incident_list_page_costs_a_fixed_number_of_statements(
    cast: Any, busy: list[Any], django_assert_max_num_queries: Any, path: str, most: int
) -> None:
    client = token_client(cast.viewer)
    with django_assert_max_num_queries(most):
        response = client.get(path)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert rows and all(r["commander"]["username"] == "responder" and len(r["impacts"]) == 2 for r in rows)


def test_an_incident_detail_costs_three_statements(cast: Any, busy: list[Any], django_assert_max_num_queries: Any) -> None:
    client = token_client(cast.viewer)
    with django_assert_max_num_queries(3):  # token + the incident with its severity + impacts, roles and tags
        response = client.get(f"/api/v1/incidents/{busy[5].reference}/")
    assert response.status_code == 200
    data = response.json()
    assert [r["role"] for r in data["roles"]] == ["commander", "scribe"]
    assert data["tags"] == ["db", "t1"]
    assert [i["service"] for i in data["impacts"]] == ["api", "web"]


def test_a_timeline_page_costs_two_statements(cast: Any, busy: list[Any], django_assert_max_num_queries: Any) -> None:
    client = token_client(cast.viewer)
    with django_assert_max_num_queries(2):  # token + the page with its authors
        response = client.get(f"/api/v1/incidents/{busy[5].reference}/timeline/")
    assert response.status_code == 200
    assert response.json()["results"][0]["body"] == "note 5"


def test_a_missing_incident_is_a_404_on_every_read(cast: Any) -> None:
    client = token_client(cast.viewer)
    for path in ("/api/v1/incidents/INC-999999/", "/api/v1/incidents/INC-999999/timeline/", "/api/v1/incidents/nope/"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", path


def test_the_reads_need_a_role_and_a_valid_token(cast: Any, busy: list[Any]) -> None:
    ref = busy[0].reference
    paths = ["/api/v1/incidents/", f"/api/v1/incidents/{ref}/", f"/api/v1/incidents/{ref}/timeline/"]
    viewer = token_client(cast.viewer)
    _, inactive = ApiToken.issue(user=cast.outsider, name="inactive owner")
    revoked_token, raw = ApiToken.issue(user=cast.viewer, name="gone")
    revoked_token.revoked_at = timezone.now()
    revoked_token.save(update_fields=["revoked_at"])
    for path in paths:
        assert viewer.get(path).status_code == 200, path
        assert Client(HTTP_AUTHORIZATION=f"Bearer {inactive}").get(path).status_code == 401, path
        assert Client().get(path).status_code in (401, 403), path
        assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get(path).status_code == 401, path


def test_a_write_shows_in_the_writers_next_read(cast: Any, busy: list[Any]) -> None:
    writer = token_client(cast.responder, scope=TokenScope.WRITE)
    incident = busy[-1]
    ref = incident.reference
    before = writer.get(f"/api/v1/incidents/{ref}/").json()
    writer.get("/api/v1/incidents/")
    writer.get(f"/api/v1/incidents/{ref}/timeline/")

    assert writer.post(f"/api/v1/incidents/{ref}/notes/", {"body": "rolled back"}, content_type="application/json").status_code == 201
    assert writer.post(f"/api/v1/incidents/{ref}/status/", {"status": "identified"}, content_type="application/json").status_code == 200
    assert writer.post(f"/api/v1/incidents/{ref}/roles/", {"role": "commander", "user": "owner"}, content_type="application/json").status_code == 200
    assert writer.patch(f"/api/v1/incidents/{ref}/", {"tags": ["network"]}, content_type="application/json").status_code == 200

    after = writer.get(f"/api/v1/incidents/{ref}/").json()
    assert before["status"] == "investigating" and after["status"] == "identified"
    assert after["commander"]["username"] == "owner" and after["tags"] == ["network"]
    listed = next(r for r in writer.get("/api/v1/incidents/").json()["results"] if r["id"] == incident.pk)
    assert listed["status"] == "identified" and listed["commander"]["username"] == "owner" and listed["tags"] == ["network"]
    timeline = writer.get(f"/api/v1/incidents/{ref}/timeline/").json()["results"]
    assert "rolled back" in [e["body"] for e in timeline]


def test_last_use_is_written_at_most_once_a_minute(cast: Any, django_assert_num_queries: Any) -> None:
    token, raw = ApiToken.issue(user=cast.viewer, name="touch")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    with django_assert_num_queries(3):  # the token, its last use, the severities
        client.get("/api/v1/severities/")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    with django_assert_num_queries(2):  # within the minute: no write
        client.get("/api/v1/severities/")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(seconds=61))
    client.get("/api/v1/severities/")
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at > first - timedelta(seconds=61)
