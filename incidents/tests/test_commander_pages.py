"""What a commander meets on the responder pages: the forms offer what fits the
incident, nothing typed is lost, and htmx fragments build only themselves."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from incidents import services
from incidents.models import Incident, MessageTemplate, Postmortem, PostmortemStatus, TimelineEvent
from incidents.views import war_room
from portal.tests.factories import declare
from portal.tests.support import present

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def incident(cast: Any) -> Incident:
    return declare(by=cast.responder, title="Checkout is failing", visibility="public", impacts={cast.service: "major_outage"})


def room(incident: Incident) -> str:
    return reverse("incident-detail", args=[incident.reference])


def status_options(html: str) -> tuple[list[str], list[str]]:
    select = re.search(r'<select name="status" id="status-choices".*?</select>', html, re.S)
    assert select, "the status choices are on the page"
    values = re.findall(r'<option value="(\w+)"', select.group(0))
    selected = re.findall(r'<option value="(\w+)" selected', select.group(0))
    return values, selected


# --- the status selector -----------------------------------------------------------------------


def test_the_status_selector_offers_the_allowed_statuses_with_the_next_step_selected(cast: Any, incident: Incident) -> None:
    client = client_for(cast.responder)
    assert status_options(client.get(room(incident)).content.decode()) == (["identified", "monitoring", "resolved"], ["identified"])
    services.incident_change_status(incident=incident, status="identified", by=cast.responder)
    assert status_options(client.get(room(incident)).content.decode()) == (["investigating", "monitoring", "resolved"], ["monitoring"])
    services.incident_change_status(incident=incident, status="monitoring", by=cast.responder)
    assert status_options(client.get(room(incident)).content.decode())[1] == ["resolved"]
    services.incident_change_status(incident=incident, status="resolved", by=cast.responder)
    assert status_options(client.get(room(incident)).content.decode()) == (["investigating"], ["investigating"])


def test_the_live_refresh_brings_the_status_choices_of_the_new_status(cast: Any, incident: Incident) -> None:
    services.incident_change_status(incident=incident, status="identified", by=cast.responder)
    live = client_for(cast.responder).get(room(incident) + "?part=live", headers={**HTMX, "HX-Target": "incident-header"}).content.decode()
    assert 'hx-swap-oob="outerHTML"' in live
    assert status_options(live) == (["investigating", "monitoring", "resolved"], ["monitoring"])
    assert 'id="timeline" hx-swap-oob="innerHTML"' in live and "Declared SEV2" in live
    viewer = client_for(cast.viewer).get(room(incident) + "?part=live", headers=HTMX).content.decode()
    assert "status-choices" not in viewer and "Declared SEV2" in viewer


# --- roles -------------------------------------------------------------------------------------


def test_viewers_are_not_offered_as_commanders_and_cannot_be_given_a_role(cast: Any, incident: Incident) -> None:
    client = client_for(cast.responder)
    page = client.get(room(incident)).content.decode()
    role_select = present(re.search(r'<select name="user".*?</select>', page, re.S)).group(0)
    assert f'value="{cast.responder.pk}"' in role_select and f'value="{cast.owner.pk}"' in role_select
    assert f'value="{cast.viewer.pk}"' not in role_select
    declare_page = client.get(reverse("incident-declare")).content.decode()
    commander = present(re.search(r'<select name="commander".*?</select>', declare_page, re.S)).group(0)
    assert f'value="{cast.viewer.pk}"' not in commander and f'value="{cast.responder.pk}"' in commander
    refused = client.post(reverse("incident-role", args=[incident.reference]), {"role": "commander", "user": cast.viewer.pk}, headers=HTMX)
    assert refused.status_code == 400
    assert not incident.role_assignments.filter(user=cast.viewer).exists()


# --- the header ----------------------------------------------------------------------------------


def test_a_resolved_incident_says_how_long_it_lasted_to_the_second(cast: Any, incident: Incident) -> None:
    services.incident_change_status(incident=incident, status="resolved", by=cast.responder)
    Incident.objects.filter(pk=incident.pk).update(resolved_at=incident.started_at + timedelta(seconds=42))
    header = client_for(cast.viewer).get(room(incident), headers={**HTMX, "HX-Target": "incident-header"}).content.decode()
    assert "Open for" not in header and "resolved after" not in header
    assert re.search(r'<dt>Lasted</dt><dd data-field="lasted">42s</dd>', header)
    Incident.objects.filter(pk=incident.pk).update(resolved_at=incident.started_at + timedelta(hours=1, minutes=5, seconds=3))
    header = client_for(cast.viewer).get(room(incident), headers={**HTMX, "HX-Target": "incident-header"}).content.decode()
    assert '<dd data-field="lasted">1h 5m</dd>' in header


# --- fragments build only themselves ---------------------------------------------------------------


def test_the_header_fragment_builds_no_timeline_and_the_timeline_no_forms(
    cast: Any, incident: Incident, monkeypatch: pytest.MonkeyPatch, django_assert_max_num_queries: Any
) -> None:
    for n in range(40):
        services.incident_add_note(incident=incident, body=f"note **{n}**", by=cast.responder)
    rendered: list[str] = []
    real = war_room.render_markdown

    def counted(body: str) -> str:
        rendered.append(body)
        return real(body)

    monkeypatch.setattr(war_room, "render_markdown", counted)
    client = client_for(cast.responder)
    client.get(room(incident))  # sessions, the user: warm
    rendered.clear()
    with django_assert_max_num_queries(8):
        header = client.get(room(incident), headers={**HTMX, "HX-Target": "incident-header"})
    assert header.status_code == 200 and 'data-field="status"' in header.content.decode()
    assert rendered == [], "the header renders no timeline Markdown"
    with django_assert_max_num_queries(9):
        timeline = client.get(room(incident), headers={**HTMX, "HX-Target": "timeline"})
    assert "<strong>39</strong>" in timeline.content.decode()
    assert len(rendered) == TimelineEvent.objects.filter(incident=incident).exclude(body="").count() > 40
    assert "status-choices" not in timeline.content.decode() and "incident-alerts" not in timeline.content.decode()


# --- message templates -------------------------------------------------------------------------------


def test_incidents_are_offered_incident_templates_only_in_lifecycle_order(cast: Any, incident: Incident) -> None:
    page = client_for(cast.responder).get(room(incident)).content.decode()
    select = present(re.search(r'<select name="template".*?</select>', page, re.S)).group(0)
    names = re.findall(r'<option value="\d+">([^<]+)</option>', select)
    assert names == ["Investigating", "Identified", "Monitoring", "Resolved"]
    maintenance = MessageTemplate.objects.get(name="Maintenance started")
    fill = reverse("incident-update-template", args=[incident.reference])
    assert "in progress" not in client_for(cast.responder).get(fill, {"template": maintenance.pk}).content.decode()


def test_the_resolution_template_reads_well_for_one_service(cast: Any, incident: Incident) -> None:
    resolved = MessageTemplate.objects.get(name="Resolved")
    fill = reverse("incident-update-template", args=[incident.reference])
    body = client_for(cast.responder).get(fill, {"template": resolved.pk}).content.decode()
    assert "Public API are" not in body
    assert "This incident has been resolved. Everything is working normally again for Public API." in body


# --- postmortems -------------------------------------------------------------------------------------


def test_publishing_saves_the_text_typed_with_it(cast: Any, incident: Incident) -> None:
    services.incident_change_status(incident=incident, status="resolved", by=cast.responder)
    services.postmortem_start(incident=incident, by=cast.responder)
    postmortem = Postmortem.objects.get(incident=incident)
    form = {f"section-{s.key}": s.body for s in postmortem.sections.all()}
    form.update({"section-summary": "The cache expired.", "section-impact": "Checkout failed.",
                 "section-root-cause": "A missing TTL.", "users_affected": "1200", "status": "published"})
    response = client_for(cast.responder).post(reverse("postmortem-status", args=[incident.reference]), form)
    assert response.status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.status == PostmortemStatus.PUBLISHED and postmortem.users_affected == 1200
    assert postmortem.sections.get(key="root-cause").body == "A missing TTL."


def test_a_refused_publish_keeps_what_was_typed(cast: Any, incident: Incident) -> None:
    services.postmortem_start(incident=incident, by=cast.responder)  # the incident is still open: publishing is refused
    postmortem = Postmortem.objects.get(incident=incident)
    form = {f"section-{s.key}": s.body for s in postmortem.sections.all()}
    form.update({"section-summary": "Half an explanation", "status": "published"})
    response = client_for(cast.responder).post(reverse("postmortem-status", args=[incident.reference]), form)
    assert response.status_code == 409 and "Half an explanation" in response.content.decode()
    assert postmortem.sections.get(key="summary").body == "Half an explanation"
    bad = {**form, "users_affected": "many"}
    response = client_for(cast.responder).post(reverse("postmortem-status", args=[incident.reference]), bad)
    assert response.status_code == 400 and "Half an explanation" in response.content.decode()


def test_people_are_named_by_name_in_postmortems_and_action_items(cast: Any, incident: Incident) -> None:
    services.postmortem_start(incident=incident, by=cast.responder)
    postmortem = Postmortem.objects.get(incident=incident)
    Postmortem.objects.filter(pk=postmortem.pk).update(owner=cast.responder)
    services.action_item_create(postmortem=postmortem, title="Add TTL alerts", owner=cast.responder, due_date=None,
                                priority="high", external_url="", by=cast.responder)
    name = cast.responder.get_full_name()
    assert name and name != cast.responder.username
    listing = client_for(cast.viewer).get(reverse("postmortem-list")).content.decode()
    assert f"<td>{name}</td>" in listing
    edit = client_for(cast.responder).get(reverse("postmortem-edit", args=[incident.reference])).content.decode()
    assert f'<div class="muted small">{name}' in edit


# --- small things ------------------------------------------------------------------------------------


def test_favicon_and_the_admin_name_the_portal(cast: Any, settings: Any) -> None:
    icon = Client().get("/favicon.ico")
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in icon.getvalue()
    admin = Client().get("/admin/login/").content.decode()
    assert "Django administration" not in admin and f"{settings.SITE_NAME} administration" in admin
