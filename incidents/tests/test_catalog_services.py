"""Catalogue writes go through services: cleaned text, an audit line, a domain
event after commit that rebuilds the public snapshot and refreshes dashboards."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from incidents import events, services
from incidents.models import MessageTemplate, Service, ServiceGroup, Severity

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager(monkeypatch: Any) -> None:
    from portal.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def seen() -> Any:
    kinds: list[events.DomainEvent] = []
    events.subscribe(kinds.append)
    yield kinds
    events.unsubscribe(kinds.append)


def _components(client: Any) -> dict[str, str]:
    return {c["id"]: c["name"] for c in client.get("/api/v2/summary.json").json()["components"]}


def test_renaming_a_service_shows_on_the_public_summary_right_after_the_write(
    api: Any, client: Any, cast: Any, world: Any, eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    from incidents.public import rebuild

    rebuild.rebuild()
    assert "Public API" in _components(client).values()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.as_(cast.owner).patch("/api/v1/services/api/", {"name": "Payments API"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Payments API"
    names = _components(client).values()
    assert "Payments API" in names and "Public API" not in names


def test_a_new_public_service_and_group_appear_on_the_public_page_after_the_write(
    api: Any, client: Any, cast: Any, world: Any, eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    owner = api.as_(cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.post("/api/v1/service-groups/", {"slug": "edge", "name": "Edge"}, format="json").status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        created = owner.post("/api/v1/services/", {"slug": "cdn", "name": "CDN", "group": "edge"}, format="json")
    assert created.status_code == 201, created.content
    page = client.get("/status/").content.decode()
    assert "CDN" in page and "Edge" in page


def test_each_catalogue_write_publishes_its_event_after_commit(
    api: Any, cast: Any, seen: list[events.DomainEvent], django_capture_on_commit_callbacks: Any
) -> None:
    owner = api.as_(cast.owner)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        owner.patch("/api/v1/services/api/", {"description": "The public API"}, format="json")
    assert seen == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert [(e.kind, e.public, e.data["fields"]) for e in seen] == [("catalog.service_updated", True, "description")]

    seen.clear()
    sev = Severity.objects.get(name="SEV4")
    with django_capture_on_commit_callbacks(execute=True):
        owner.patch("/api/v1/services/billing-worker/", {"name": "Billing"}, format="json")
        owner.patch(f"/api/v1/severities/{sev.pk}/", {"response_target_seconds": 7200}, format="json")
        owner.post("/api/v1/message-templates/", {"kind": "update", "name": "Still looking", "body": "We are on it."}, format="json")
        owner.patch("/api/v1/services/api/", {"name": "Public API"}, format="json")  # unchanged: no event
    assert [(e.kind, e.public) for e in seen] == [
        ("catalog.service_updated", False),  # an internal service: the public page is untouched
        ("catalog.severity_updated", True),
        ("catalog.message_template_created", False),
    ]
    assert Severity.objects.get(pk=sev.pk).response_target.total_seconds() == 7200


def test_catalogue_events_reach_the_dashboard_audience() -> None:
    from incidents.live import DASHBOARD_PREFIXES

    assert "catalog.service_updated".startswith(DASHBOARD_PREFIXES)


def test_the_services_clean_text_and_record_who_changed_what(cast: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="incidents.audit"):
        group = services.service_group_create(by=cast.owner, slug="core", name="Co\x1bre\nteam", description="a\x00b\r\nc")
        service = services.service_create(
            by=cast.owner, slug="ledger", name="Ledger\x07", group=group,
            links=[{"kind": "docs", "label": "Run\x01book", "url": "https://example.com/ledger"}],
        )  # fmt: skip
        services.service_update(service=service, by=cast.owner, name="General ledger")
    group.refresh_from_db()
    assert (group.name, group.description) == ("Core team", "ab\nc")
    service.refresh_from_db()
    assert service.name == "General ledger"
    assert list(service.links.values_list("label", flat=True)) == ["Runbook"]
    lines = [r.getMessage() for r in caplog.records]
    assert any("service ledger updated" in line and "by owner" in line and "'to': 'General ledger'" in line for line in lines)
    assert any(line.startswith("service_group core created") for line in lines)


def test_invalid_values_are_a_clear_error_and_change_nothing(cast: Any, api: Any) -> None:
    from portal.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as error:
        services.severity_update(severity=Severity.objects.get(name="SEV1"), by=cast.owner, name="")
    assert "name" in error.value.fields
    assert Severity.objects.filter(name="SEV1").exists()
    with pytest.raises(ValidationFailed):
        services.service_update(service=cast.service, by=cast.owner, depends_on=[cast.service])
    response = api.as_(cast.owner).patch("/api/v1/services/api/", {"visibility": "everyone"}, format="json")
    assert response.status_code == 400
    assert Service.objects.get(slug="api").visibility == "public"


def test_group_and_template_deletes_go_through_their_services(
    api: Any, cast: Any, seen: list[events.DomainEvent], django_capture_on_commit_callbacks: Any
) -> None:
    owner = api.as_(cast.owner)
    group = ServiceGroup.objects.create(slug="old", name="Old")
    template = MessageTemplate.objects.create(kind="update", name="Old words", body="x")
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.delete(f"/api/v1/service-groups/{group.slug}/").status_code == 204
        assert owner.delete(f"/api/v1/message-templates/{template.pk}/").status_code == 204
    assert [e.kind for e in seen] == ["catalog.service_group_deleted", "catalog.message_template_deleted"]


def test_viewers_and_responders_cannot_write_the_catalogue(api: Any, cast: Any) -> None:
    for user in (cast.viewer, cast.responder):
        assert api.as_(user).patch("/api/v1/services/api/", {"name": "X"}, format="json").status_code == 403
    assert Service.objects.get(slug="api").name == "Public API"
