"""No write path stores a control character: the services clean every human-entered
text field, and the API serializers and HTML forms apply the same rule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.models import (
    ActionItem,
    Incident,
    MaintenanceWindow,
    MessageTemplate,
    Postmortem,
    PublicUpdate,
    Service,
    ServiceGroup,
    Severity,
    TimelineEvent,
    TimelineKind,
)
from portal.errors import ValidationFailed
from portal.models import ApiToken
from portal.tests.factories import declare, severity
from portal.text import has_forbidden_characters

pytestmark = pytest.mark.django_db

# SOH, ESC (a terminal escape), BEL, DEL and a C1 control: what froze the status page.
DIRTY = "Checkout\x01 is \x1b[31mdown\x07\x7f\x85"
CLEAN = "Checkout is [31mdown"
DIRTY_BODY = "We are\x01 investigating.\n\n- step \x1bone\r\n- step two\x00"
CLEAN_BODY = "We are investigating.\n\n- step one\n- step two"


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _assert_clean(*values: str) -> None:
    for value in values:
        assert not has_forbidden_characters(value), repr(value)


# --- services ---------------------------------------------------------------------------------


def test_declaring_and_editing_an_incident_strips_control_characters(cast: Any) -> None:
    incident = declare(by=cast.responder, title=DIRTY, summary=DIRTY_BODY, tags=["pay\x01ments"])
    incident.refresh_from_db()
    assert incident.title == CLEAN and incident.summary == CLEAN_BODY
    assert list(incident.tags.values_list("name", flat=True)) == ["payments"]
    declared = TimelineEvent.objects.get(incident=incident, kind=TimelineKind.DECLARED)
    _assert_clean(declared.body)

    services.incident_update_details(incident=incident, by=cast.responder, title="New\x1b title", summary="a\x02b")
    incident.refresh_from_db()
    assert incident.title == "New title" and incident.summary == "ab"


def test_a_title_made_only_of_control_characters_is_refused(cast: Any) -> None:
    with pytest.raises(ValidationFailed) as refused:
        declare(by=cast.responder, title="\x01\x1b\x07")
    assert "title" in refused.value.fields
    incident = declare(by=cast.responder)
    with pytest.raises(ValidationFailed):
        services.incident_update_details(incident=incident, by=cast.responder, title="\x00\x1b")


def test_status_severity_reopen_notes_and_public_updates_are_cleaned(cast: Any) -> None:
    incident = declare(by=cast.responder, visibility="public", impacts={cast.service: "major_outage"})
    services.incident_change_status(incident=incident, status="identified", by=cast.responder, note=DIRTY_BODY)
    services.incident_change_severity(incident=incident, severity=severity("SEV1"), by=cast.responder, reason=DIRTY)
    services.incident_change_status(incident=incident, status="resolved", by=cast.responder)
    services.incident_change_status(incident=incident, status="investigating", by=cast.responder, reason=DIRTY)
    note = services.incident_add_note(incident=incident, body=DIRTY_BODY, by=cast.responder)
    update = services.incident_post_update(incident=incident, body=DIRTY_BODY, by=cast.responder)
    services.incident_record_event(incident=incident, kind=TimelineKind.ALERT, body=DIRTY)
    services.incident_record_events(incident=incident, entries=[(TimelineKind.ALERT, DIRTY, {})])

    assert note.body == CLEAN_BODY
    update.refresh_from_db()
    assert update.body == CLEAN_BODY
    _assert_clean(update.body_html)
    for event in TimelineEvent.objects.filter(incident=incident):
        _assert_clean(event.body, str(event.details))
    reopened = TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.STATUS_CHANGE).latest("id")
    assert reopened.details["reason"] == CLEAN


def test_a_public_update_of_control_characters_only_is_refused(cast: Any) -> None:
    incident = declare(by=cast.responder, visibility="public")
    with pytest.raises(ValidationFailed):
        services.incident_post_update(incident=incident, body="\x01\x02\n\x1b", by=cast.responder)
    assert not PublicUpdate.objects.exists()


def test_maintenance_windows_are_cleaned(cast: Any) -> None:
    now = timezone.now()
    window = services.maintenance_schedule(
        title=DIRTY, description=DIRTY_BODY, scheduled_start=now, scheduled_end=now + timedelta(hours=1),
        services=[cast.service], by=cast.responder,
    )  # fmt: skip
    assert (window.title, window.description) == (CLEAN, CLEAN_BODY)
    services.maintenance_update(window=window, by=cast.responder, title="Upgrade\x1b", description="x\x7fy")
    window.refresh_from_db()
    assert (window.title, window.description) == ("Upgrade", "xy")


def test_postmortem_sections_and_action_items_are_cleaned_and_links_are_http_only(cast: Any) -> None:
    incident = declare(by=cast.responder)
    postmortem = services.postmortem_start(incident=incident, by=cast.responder)
    services.postmortem_update(postmortem=postmortem, by=cast.responder, sections={"summary": DIRTY_BODY})
    assert postmortem.sections.get(key="summary").body == CLEAN_BODY
    item = services.action_item_create(postmortem=postmortem, title=DIRTY, by=cast.responder, external_url="https://x.test/1")
    assert item.title == CLEAN
    with pytest.raises(ValidationFailed):
        services.action_item_create(postmortem=postmortem, title="Fix", by=cast.responder, external_url="javascript:alert(1)")
    with pytest.raises(ValidationFailed):
        services.action_item_update(item=item, by=cast.responder, external_url="javascript:alert(1)")
    services.action_item_update(item=item, by=cast.responder, title="Add\x01 alerts")
    item.refresh_from_db()
    assert item.title == "Add alerts" and item.external_url == "https://x.test/1"


# --- API ----------------------------------------------------------------------------------------


def test_the_api_stores_incident_text_clean_and_refuses_a_blank_one(api: Any, cast: Any) -> None:
    client = api.as_(cast.responder)
    created = client.post(
        "/api/v1/incidents/", {"title": DIRTY, "severity": "SEV2", "visibility": "public", "summary": DIRTY_BODY}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["title"] == CLEAN
    ref = created.json()["reference"]
    update = client.post(f"/api/v1/incidents/{ref}/updates/", {"body": DIRTY_BODY}, format="json")
    assert update.status_code == 201 and update.json()["body"] == CLEAN_BODY
    blank = client.post("/api/v1/incidents/", {"title": "\x01\x1b", "severity": "SEV2"}, format="json")
    assert blank.status_code == 400 and "title" in str(blank.json())
    assert client.patch(f"/api/v1/incidents/{ref}/", {"title": "Renamed\x1b"}, format="json").json()["title"] == "Renamed"
    _assert_clean(*Incident.objects.values_list("title", flat=True))


def test_catalogue_writes_through_the_api_are_cleaned(api: Any, cast: Any) -> None:
    client = api.as_(cast.owner)
    group = client.post("/api/v1/service-groups/", {"slug": "core", "name": "Core\x1b", "description": DIRTY_BODY}, format="json")
    assert group.status_code == 201, group.json()
    service = client.post(
        "/api/v1/services/",
        {"slug": "payments", "name": DIRTY, "description": DIRTY_BODY, "group": "core",
         "links": [{"kind": "runbook", "label": "Run\x01book", "url": "https://runbooks.test/pay"}]},
        format="json",
    )  # fmt: skip
    assert service.status_code == 201, service.json()
    sev = Severity.objects.get(name="SEV1")
    renamed = client.patch(f"/api/v1/severities/{sev.pk}/", {"name": "P1\x1b", "description": "Worst\x07"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "P1"
    template = client.post(
        "/api/v1/message-templates/", {"kind": "update", "name": "Look\x01ing", "body": DIRTY_BODY}, format="json"
    )
    assert template.status_code == 201, template.json()
    blank = client.post("/api/v1/service-groups/", {"slug": "blank", "name": "\x1b\x01"}, format="json")
    assert blank.status_code == 400

    assert ServiceGroup.objects.get(slug="core").name == "Core"
    stored = Service.objects.get(slug="payments")
    assert (stored.name, stored.description) == (CLEAN, CLEAN_BODY)
    assert stored.links.get().label == "Runbook"
    assert MessageTemplate.objects.get(name="Looking").body == CLEAN_BODY
    assert Severity.objects.get(pk=sev.pk).description == "Worst"


def test_token_names_are_cleaned(cast: Any) -> None:
    response = _client(cast.responder).post("/api/v1/tokens/", {"name": "ci\x1b[0m", "scope": "read"}, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert ApiToken.objects.get().name == "ci[0m"


# --- HTML forms --------------------------------------------------------------------------------


def test_the_declare_form_and_the_war_room_forms_store_clean_text(cast: Any) -> None:
    client = _client(cast.responder)
    response = client.post(
        reverse("incident-declare"),
        {"title": DIRTY, "severity": severity("SEV2").pk, "impact": "partial_outage", "visibility": "public", "summary": DIRTY_BODY},
    )
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert (incident.title, incident.summary) == (CLEAN, CLEAN_BODY)
    ref = incident.reference
    assert client.post(reverse("incident-note", args=[ref]), {"body": DIRTY_BODY}).status_code == 302
    assert client.post(reverse("incident-update", args=[ref]), {"body": DIRTY_BODY, "status": "identified"}).status_code == 302
    assert client.post(reverse("incident-status", args=[ref]), {"status": "monitoring", "reason": DIRTY}).status_code == 302
    assert PublicUpdate.objects.get().body == CLEAN_BODY
    for event in TimelineEvent.objects.filter(incident=incident):
        _assert_clean(event.body, str(event.details))
    blank = client.post(reverse("incident-update", args=[ref]), {"body": "\x01\x1b"})
    assert blank.status_code == 400 and PublicUpdate.objects.count() == 1


def test_the_maintenance_and_postmortem_forms_store_clean_text(cast: Any) -> None:
    client = _client(cast.responder)
    start = timezone.localtime() + timedelta(days=1)
    response = client.post(
        reverse("maintenance"),
        {
            "title": DIRTY, "description": DIRTY_BODY, "services": [cast.service.pk], "visibility": "public",
            "scheduled_start": start.strftime("%Y-%m-%dT%H:%M"), "scheduled_end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )  # fmt: skip
    assert response.status_code == 302
    assert (MaintenanceWindow.objects.get().title, MaintenanceWindow.objects.get().description) == (CLEAN, CLEAN_BODY)

    incident = declare(by=cast.responder)
    services.incident_change_status(incident=incident, status="resolved", by=cast.responder)
    ref = incident.reference
    assert client.post(reverse("postmortem-start", args=[ref])).status_code == 302
    edited = client.post(reverse("postmortem-edit", args=[ref]), {"section-summary": DIRTY_BODY})
    assert edited.status_code in (200, 302)
    postmortem = Postmortem.objects.get(incident=incident)
    assert postmortem.sections.get(key="summary").body == CLEAN_BODY
    added = client.post(reverse("action-item-create", args=[ref]), {"title": DIRTY, "priority": "medium"})
    assert added.status_code == 302
    assert ActionItem.objects.get().title == CLEAN


# --- admin ---------------------------------------------------------------------------------------


def test_admin_forms_store_clean_text(cast: Any, rf: Any) -> None:
    from django.contrib import admin
    from django.contrib.auth import get_user_model

    from portal.models import Team

    boss = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client = _client(boss)
    added = client.post("/admin/incidents/servicegroup/add/", {"slug": "edge", "name": "Edge\x1b", "description": DIRTY_BODY, "display_order": 0})
    assert added.status_code == 302, added.content.decode()[:2000]
    assert (ServiceGroup.objects.get(slug="edge").name, ServiceGroup.objects.get(slug="edge").description) == ("Edge", CLEAN_BODY)
    team = client.post("/admin/portal/team/add/", {"slug": "sre", "name": "SRE\x07", "description": "", "members": []})
    assert team.status_code == 302 and Team.objects.get(slug="sre").name == "SRE"

    request = rf.get("/admin/")
    request.user = boss
    incident = declare(by=cast.responder, visibility="public")
    form_class = admin.site._registry[Incident].get_form(request, incident)
    form = form_class(data={"title": DIRTY, "summary": DIRTY_BODY, "tags": []}, instance=incident)
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["title"], form.cleaned_data["summary"]) == (CLEAN, CLEAN_BODY)
    blank = form_class(data={"title": "\x01\x1b", "summary": ""}, instance=incident)
    assert not blank.is_valid() and "title" in blank.errors
    # Slugs keep their own validation.
    service_form = admin.site._registry[Service].get_form(request, cast.service)
    bad_slug = service_form(data={"slug": "no spaces\x01", "name": "API"}, instance=cast.service)
    assert not bad_slug.is_valid() and "slug" in bad_slug.errors
