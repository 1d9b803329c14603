"""Responder pages: each role, the forms, htmx partials, and errors from services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.models import (
    Incident,
    IncidentRole,
    IncidentStatus,
    MaintenanceStatus,
    MaintenanceWindow,
    MessageTemplate,
    MessageTemplateKind,
    Postmortem,
    PostmortemStatus,
    RoleAssignment,
    TimelineEvent,
    TimelineKind,
    Visibility,
)
from portal.tests.factories import declare, severity

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def htmx(target: str) -> dict[str, str]:
    return {**HTMX, "HX-Target": target}


@pytest.fixture
def incident(cast: Any) -> Incident:
    return declare(by=cast.responder, title="Checkout is failing", visibility="public", impacts={cast.service: "major_outage"})


def war_room(incident: Incident, suffix: str = "") -> str:
    return reverse("incident-detail", args=[incident.reference]) + suffix


# --- login, layout -------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(cast: Any, incident: Incident) -> None:
    for url in [reverse("dashboard"), war_room(incident), reverse("incident-list"), reverse("maintenance")]:
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_the_login_page_signs_a_user_in(cast: Any) -> None:
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'name="password"' in page.content
    response = client.post("/accounts/login/", {"username": "responder", "password": "pw", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_the_login_page_refuses_a_wrong_password_and_an_inactive_account(cast: Any) -> None:
    wrong = Client().post("/accounts/login/", {"username": "responder", "password": "nope"})
    assert wrong.status_code == 200 and b"did not match" in wrong.content
    inactive = Client().post("/accounts/login/", {"username": "outsider", "password": "pw"})
    assert inactive.status_code == 200 and b"did not match" in inactive.content


def test_the_layout_carries_the_csrf_token_on_body_and_the_admin_link_only_for_managers(cast: Any) -> None:
    page = client_for(cast.owner).get("/").content.decode()
    assert "hx-headers='{\"X-CSRFToken\": \"" in page
    assert 'href="/admin/"' in page
    for name in ["Dashboard", "Incidents", "Services", "Maintenance", "Postmortems", "Status page", "API docs", "Log out"]:
        assert name in page
    assert 'href="/admin/"' not in client_for(cast.responder).get("/").content.decode()
    assert "vendor/htmx/htmx-2.0.11.min.js" in page and "htmx-ext-ws" in page


# --- dashboard -----------------------------------------------------------------------------


def test_the_dashboard_shows_open_incidents_by_severity_with_a_response_timer(cast: Any) -> None:
    late = declare(by=None, title="Search is slow", sev="SEV1", started_at=timezone.now() - timedelta(hours=1))
    fresh = declare(by=None, title="Emails delayed", sev="SEV3")
    resolved = declare(by=cast.responder, title="Old thing", sev="SEV2")
    services.incident_change_status(incident=resolved, status="resolved", by=cast.responder)
    page = client_for(cast.viewer).get("/").content.decode()
    assert f'data-incident-id="{late.pk}"' in page and f'data-incident-id="{fresh.pk}"' in page
    assert f'data-incident-id="{resolved.pk}"' not in page
    # SEV1's target is 15 minutes and nobody acknowledged: breached, in red.
    late_row = page.split(f'data-incident-id="{late.pk}"')[1].split("</li>")[0]
    assert 'class="timer breached"' in late_row and "response overdue" in late_row
    fresh_row = page.split(f'data-incident-id="{fresh.pk}"')[1].split("</li>")[0]
    assert "breached" not in fresh_row and "data-due=" in fresh_row
    assert page.index("Search is slow") < page.index("Emails delayed")  # SEV1 before SEV3


def test_the_dashboard_shows_the_service_board_and_the_recent_alerts_section(cast: Any, incident: Incident) -> None:
    page = client_for(cast.viewer).get("/").content.decode()
    api_row = page.split('data-service="api"')[1].split("</li>")[0]
    assert "Major outage" in api_row
    billing_row = page.split('data-service="billing-worker"')[1].split("</li>")[0]
    assert "Operational" in billing_row
    assert "Recent alerts" in page and "No alerts received yet." in page


def test_the_declare_button_is_for_responders_only(cast: Any) -> None:
    declare_url = reverse("incident-declare")
    assert declare_url in client_for(cast.responder).get("/").content.decode()
    assert declare_url not in client_for(cast.viewer).get("/").content.decode()


def test_an_htmx_refresh_of_the_dashboard_returns_only_the_targeted_fragment(cast: Any, incident: Incident) -> None:
    client = client_for(cast.viewer)
    fragment = client.get("/", headers=htmx("open-incidents"))
    assert fragment.status_code == 200
    text = fragment.content.decode()
    assert "<html" not in text and f'data-incident-id="{incident.pk}"' in text
    board = client.get("/", headers=htmx("service-board")).content.decode()
    assert "<html" not in board and 'data-service="api"' in board


# --- declaring --------------------------------------------------------------------------------


def test_a_responder_declares_an_incident_with_services_commander_and_visibility(cast: Any) -> None:
    client = client_for(cast.responder)
    assert client.get(reverse("incident-declare")).status_code == 200
    response = client.post(
        reverse("incident-declare"),
        {
            "title": "Logins fail",
            "severity": severity("SEV1").pk,
            "services": [cast.service.pk],
            "impact": "partial_outage",
            "commander": cast.owner.pk,
            "visibility": "public",
        },
    )
    incident = Incident.objects.get(title="Logins fail")
    assert response.status_code == 302 and response["Location"] == war_room(incident)
    assert incident.visibility == Visibility.PUBLIC and incident.severity.name == "SEV1"
    assert incident.impacts.get().impact == "partial_outage"
    assert RoleAssignment.objects.get(incident=incident, role=IncidentRole.COMMANDER, ended_at=None).user == cast.owner


def test_declaring_with_a_bad_form_shows_the_errors_and_creates_nothing(cast: Any) -> None:
    response = client_for(cast.responder).post(reverse("incident-declare"), {"title": "  ", "severity": "999", "visibility": "x"})
    assert response.status_code == 400
    assert b"field-error" in response.content
    assert not Incident.objects.exists()


def test_viewers_cannot_declare(cast: Any) -> None:
    client = client_for(cast.viewer)
    assert client.get(reverse("incident-declare")).status_code == 403
    response = client.post(reverse("incident-declare"), {"title": "x", "severity": severity("SEV1").pk, "visibility": "public", "impact": "major_outage"})
    assert response.status_code == 403
    assert not Incident.objects.exists()


# --- war room -------------------------------------------------------------------------------------


def test_the_war_room_shows_header_roles_impact_and_timeline_with_pinned_events_first(cast: Any, incident: Incident) -> None:
    services.incident_assign_role(incident=incident, role="commander", user=cast.owner, by=cast.responder)
    services.incident_add_note(incident=incident, body="Pinned **finding**", by=cast.responder, pinned=True)
    services.incident_add_note(incident=incident, body="A later note", by=cast.responder)
    page = client_for(cast.viewer).get(war_room(incident)).content.decode()
    assert incident.reference in page and "Checkout is failing" in page
    assert f'ws-connect="/ws/incidents/{incident.pk}/"' in page
    assert 'data-role="commander"' in page and cast.owner.get_full_name() in page
    assert "Public API" in page and "Major outage" in page
    assert page.index("<strong>finding</strong>") < page.index("A later note")  # pinned on top, Markdown rendered


def test_viewers_see_the_war_room_read_only_and_responders_get_the_composer(cast: Any, incident: Incident) -> None:
    viewer_page = client_for(cast.viewer).get(war_room(incident)).content.decode()
    assert "read-only access" in viewer_page
    assert reverse("incident-status", args=[incident.reference]) not in viewer_page
    responder_page = client_for(cast.responder).get(war_room(incident)).content.decode()
    for name in ["incident-note", "incident-status", "incident-severity", "incident-role", "incident-impact", "incident-update"]:
        assert reverse(name, args=[incident.reference]) in responder_page


def test_unknown_or_malformed_references_are_404_and_lowercase_ones_redirect(cast: Any, incident: Incident) -> None:
    client = client_for(cast.viewer)
    assert client.get("/incidents/INC-999999/").status_code == 404
    assert client.get("/incidents/banana/").status_code == 404
    response = client.get(f"/incidents/inc-{incident.pk}/")
    assert response.status_code == 302 and response["Location"] == war_room(incident)


def test_htmx_refreshes_of_the_war_room_return_the_header_or_the_timeline(cast: Any, incident: Incident) -> None:
    client = client_for(cast.viewer)
    header = client.get(war_room(incident), headers=htmx("incident-header")).content.decode()
    assert "<html" not in header and 'data-field="status"' in header and "Timeline" not in header
    timeline = client.get(war_room(incident), headers=htmx("timeline")).content.decode()
    assert "<html" not in timeline and "Timeline" in timeline and "Declared SEV2" in timeline


def test_a_status_change_over_htmx_answers_with_feedback_and_a_refresh_trigger(cast: Any, incident: Incident) -> None:
    url = reverse("incident-status", args=[incident.reference])
    response = client_for(cast.responder).post(url, {"status": "identified"}, headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "incident-changed"
    assert "Status is now Identified." in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.IDENTIFIED


def test_an_invalid_transition_is_a_409_that_names_the_allowed_transitions(cast: Any, incident: Incident) -> None:
    services.incident_change_status(incident=incident, status="resolved", by=cast.responder)
    url = reverse("incident-status", args=[incident.reference])
    response = client_for(cast.responder).post(url, {"status": "identified"}, headers=HTMX)
    assert response.status_code == 409
    text = response.content.decode()
    assert "cannot go from resolved to identified" in text
    assert "Allowed from here: Investigating." in text
    assert "HX-Trigger" not in response
    # Without htmx: the whole page, with the same message and status code.
    page = client_for(cast.responder).post(url, {"status": "identified"})
    assert page.status_code == 409 and "Allowed from here: Investigating." in page.content.decode()
    assert "<html" in page.content.decode()


def test_reopening_without_a_reason_is_refused_with_the_reason_field_named(cast: Any, incident: Incident) -> None:
    services.incident_change_status(incident=incident, status="resolved", by=cast.responder)
    url = reverse("incident-status", args=[incident.reference])
    client = client_for(cast.responder)
    refused = client.post(url, {"status": "investigating"}, headers=HTMX)
    assert refused.status_code == 400 and "needs a reason" in refused.content.decode()
    done = client.post(url, {"status": "investigating", "reason": "The fix did not hold"}, headers=HTMX)
    assert done.status_code == 200
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING


def test_a_plain_form_post_redirects_back_to_the_war_room_with_a_message(cast: Any, incident: Incident) -> None:
    client = client_for(cast.responder)
    response = client.post(reverse("incident-status", args=[incident.reference]), {"status": "monitoring"})
    assert response.status_code == 302 and response["Location"] == war_room(incident)
    assert "Status is now Monitoring." in client.get(war_room(incident)).content.decode()


def test_viewers_and_inactive_accounts_cannot_act(cast: Any, incident: Incident) -> None:
    url = reverse("incident-status", args=[incident.reference])
    assert client_for(cast.viewer).post(url, {"status": "identified"}, headers=HTMX).status_code == 403
    # An inactive account's session is not a login at all.
    assert client_for(cast.outsider).post(url, {"status": "identified"}).status_code == 302
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING


def test_a_bad_form_value_is_a_400_with_a_message(cast: Any, incident: Incident) -> None:
    response = client_for(cast.responder).post(reverse("incident-status", args=[incident.reference]), {"status": "exploded"}, headers=HTMX)
    assert response.status_code == 400
    assert "Please correct the form" in response.content.decode()


def test_notes_severity_roles_impact_and_visibility_go_through_the_services(cast: Any, incident: Incident) -> None:
    client = client_for(cast.responder)
    ref = incident.reference
    assert client.post(reverse("incident-note", args=[ref]), {"body": "Rolled back", "pinned": "on"}, headers=HTMX).status_code == 200
    assert TimelineEvent.objects.get(incident=incident, kind=TimelineKind.NOTE).pinned
    assert client.post(reverse("incident-severity", args=[ref]), {"severity": severity("SEV1").pk}, headers=HTMX).status_code == 200
    same = client.post(reverse("incident-severity", args=[ref]), {"severity": severity("SEV1").pk}, headers=HTMX)
    assert same.status_code == 409 and "already SEV1" in same.content.decode()
    assert client.post(reverse("incident-role", args=[ref]), {"role": "scribe", "user": cast.owner.pk}, headers=HTMX).status_code == 200
    assert client.post(reverse("incident-impact", args=[ref]), {"service": cast.internal_service.pk, "impact": "degraded_performance"}, headers=HTMX).status_code == 200
    assert client.post(reverse("incident-impact", args=[ref]), {"service": cast.service.pk, "impact": ""}, headers=HTMX).status_code == 200
    assert client.post(reverse("incident-visibility", args=[ref]), {"visibility": "internal"}, headers=HTMX).status_code == 200
    incident.refresh_from_db()
    assert incident.severity.name == "SEV1" and incident.visibility == Visibility.INTERNAL
    assert RoleAssignment.objects.get(incident=incident, role="scribe", ended_at=None).user == cast.owner
    assert list(incident.impacts.values_list("service__slug", "impact")) == [("billing-worker", "degraded_performance")]


def test_pinning_and_unpinning_a_timeline_event(cast: Any, incident: Incident) -> None:
    event = TimelineEvent.objects.get(incident=incident, kind=TimelineKind.DECLARED)
    url = reverse("incident-pin", args=[incident.reference, event.pk])
    client = client_for(cast.responder)
    assert client.post(url, {"pinned": "on"}, headers=HTMX).status_code == 200
    event.refresh_from_db()
    assert event.pinned
    assert client.post(url, {"pinned": ""}, headers=HTMX).status_code == 200
    event.refresh_from_db()
    assert not event.pinned
    other = declare(by=cast.responder, title="Other")
    assert client.post(reverse("incident-pin", args=[other.reference, event.pk]), {"pinned": "on"}).status_code == 404


def test_a_public_update_is_posted_and_may_move_the_status(cast: Any, incident: Incident) -> None:
    url = reverse("incident-update", args=[incident.reference])
    response = client_for(cast.responder).post(url, {"body": "We found the cause.", "status": "identified"}, headers=HTMX)
    assert response.status_code == 200 and "Public update posted." in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.IDENTIFIED
    assert incident.public_updates.get().body == "We found the cause."


def test_a_public_update_on_an_internal_incident_is_a_visible_conflict(cast: Any) -> None:
    internal = declare(by=cast.responder, title="Quiet one", visibility="internal")
    response = client_for(cast.responder).post(reverse("incident-update", args=[internal.reference]), {"body": "Hello"}, headers=HTMX)
    assert response.status_code == 409
    assert "make it public" in response.content.decode()
    assert not internal.public_updates.exists()


def test_the_preview_renders_sanitised_markdown(cast: Any, incident: Incident) -> None:
    url = reverse("incident-update-preview", args=[incident.reference])
    response = client_for(cast.responder).post(url, {"body": "**Fixed** <script>alert(1)</script>"}, headers=HTMX)
    text = response.content.decode()
    assert "<strong>Fixed</strong>" in text and "<script>" not in text


def test_a_message_template_fills_the_update_fields(cast: Any, incident: Incident) -> None:
    template = MessageTemplate.objects.create(
        kind=MessageTemplateKind.UPDATE, name="Cause found (test)", status="identified",
        body="We identified the cause of **{title}** affecting {services}. Status: {status}. {not-a-placeholder}",
    )
    url = reverse("incident-update-template", args=[incident.reference])
    text = client_for(cast.responder).get(url, {"template": template.pk}, headers=HTMX).content.decode()
    assert "We identified the cause of **Checkout is failing** affecting Public API. Status: identified. {not-a-placeholder}" in text
    assert '<option value="identified" selected>' in text
    assert "<strong>Checkout is failing</strong>" in text  # the preview comes along
    assert client_for(cast.viewer).get(url, {"template": template.pk}).status_code == 403


# --- list, services, maintenance --------------------------------------------------------------------


def test_the_incident_list_filters_and_searches(cast: Any) -> None:
    a = declare(by=cast.responder, title="Payments down", sev="SEV1", impacts={cast.service: "major_outage"})
    b = declare(by=cast.responder, title="Slow reports", sev="SEV3")
    services.incident_change_status(incident=b, status="resolved", by=cast.responder)
    client = client_for(cast.viewer)

    def ids(**params: Any) -> set[int]:
        response = client.get(reverse("incident-list"), params)
        assert response.status_code == 200
        text = response.content.decode()
        return {pk for pk in (a.pk, b.pk) if f'data-incident-id="{pk}"' in text}

    assert ids() == {a.pk, b.pk}
    assert ids(open="true") == {a.pk}
    assert ids(open="false") == {b.pk}
    assert ids(status="resolved") == {b.pk}
    assert ids(severity="SEV1") == {a.pk}
    assert ids(service="api") == {a.pk}
    assert ids(q="reports") == {b.pk}
    assert ids(q=a.reference) == {a.pk}
    assert ids(status="", severity="", service="", open="", q="") == {a.pk, b.pk}  # the empty form means "any"


def test_a_bad_filter_is_a_400_with_a_message_not_a_500(cast: Any) -> None:
    response = client_for(cast.viewer).get(reverse("incident-list"), {"status": "exploded", "open": "maybe"})
    assert response.status_code == 400
    assert "Some filters are invalid" in response.content.decode()


def test_the_incident_list_answers_htmx_with_the_results_only(cast: Any, incident: Incident) -> None:
    text = client_for(cast.viewer).get(reverse("incident-list"), {"q": "checkout"}, headers=htmx("incident-results")).content.decode()
    assert "<html" not in text and f'data-incident-id="{incident.pk}"' in text


def test_the_service_page_shows_status_incidents_and_links(cast: Any, incident: Incident) -> None:
    cast.service.links.create(kind="runbook", label="API runbook", url="https://runbooks.example.com/api")
    text = client_for(cast.viewer).get(reverse("service-detail", args=["api"])).content.decode()
    assert "Major outage" in text and incident.reference in text and "API runbook" in text
    assert client_for(cast.viewer).get(reverse("service-detail", args=["nope"])).status_code == 404
    assert 'data-service="api"' in client_for(cast.viewer).get(reverse("service-list")).content.decode()


def test_maintenance_windows_are_scheduled_and_moved_along_by_responders(cast: Any) -> None:
    client = client_for(cast.responder)
    start = timezone.now() + timedelta(days=1)
    response = client.post(reverse("maintenance"), {
        "title": "Database upgrade",
        "scheduled_start": start.strftime("%Y-%m-%dT%H:%M"),
        "scheduled_end": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "services": [cast.service.pk],
        "visibility": "public",
    })
    assert response.status_code == 302
    window = MaintenanceWindow.objects.get()
    assert "Database upgrade" in client.get(reverse("maintenance")).content.decode()
    status_url = reverse("maintenance-status", args=[window.pk])
    assert client.post(status_url, {"status": "in_progress"}).status_code == 302
    window.refresh_from_db()
    assert window.status == MaintenanceStatus.IN_PROGRESS
    refused = client.post(status_url, {"status": "scheduled"}, follow=True)
    assert "Allowed from here: Verifying, Completed." in refused.content.decode()
    assert client_for(cast.viewer).post(status_url, {"status": "completed"}).status_code == 403


def test_a_maintenance_window_that_ends_before_it_starts_is_refused(cast: Any) -> None:
    start = timezone.now() + timedelta(days=1)
    response = client_for(cast.responder).post(reverse("maintenance"), {
        "title": "Backwards",
        "scheduled_start": start.strftime("%Y-%m-%dT%H:%M"),
        "scheduled_end": (start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "services": [cast.service.pk],
        "visibility": "public",
    })
    assert response.status_code == 400 and "must end after it starts" in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


# --- postmortems -------------------------------------------------------------------------------------


def test_the_postmortem_is_started_edited_gated_and_published(cast: Any, incident: Incident) -> None:
    client = client_for(cast.responder)
    ref = incident.reference
    edit_url = reverse("postmortem-edit", args=[ref])
    assert "Start the postmortem" in client.get(edit_url).content.decode()
    assert client.post(reverse("postmortem-start", args=[ref])).status_code == 302
    postmortem = Postmortem.objects.get(incident=incident)

    # Publishing an open incident's postmortem is refused, visibly.
    status_url = reverse("postmortem-status", args=[ref])
    refused = client.post(status_url, {"status": "published"})
    assert refused.status_code == 409 and "Resolve the incident" in refused.content.decode()

    services.incident_change_status(incident=incident, status="resolved", by=cast.responder)
    refused = client.post(status_url, {"status": "published"})
    assert refused.status_code == 409
    assert "Required sections are empty: Summary, Impact, Root cause." in refused.content.decode()

    form = {f"section-{s.key}": s.body for s in postmortem.sections.all()}
    form.update({"section-summary": "The **cache** expired.", "section-impact": "Checkout failed for 20 minutes.",
                 "section-root-cause": "A missing TTL.", "users_affected": "1200"})
    assert client.post(edit_url, form).status_code == 302
    assert client.post(reverse("action-item-create", args=[ref]), {"title": "Add TTL alerts", "priority": "high"}).status_code == 302
    item = postmortem.action_items.get()
    assert client.post(reverse("action-item-status", args=[item.pk]), {"status": "done"}).status_code == 302

    assert client.post(status_url, {"status": "published"}).status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.status == PostmortemStatus.PUBLISHED and postmortem.users_affected == 1200
    view = client_for(cast.viewer).get(reverse("postmortem-view", args=[ref])).content.decode()
    assert "<strong>cache</strong>" in view and "Add TTL alerts" in view and "Done" in view
    assert incident.reference in client_for(cast.viewer).get(reverse("postmortem-list")).content.decode()


def test_drafts_are_hidden_from_viewers_and_viewers_cannot_edit(cast: Any, incident: Incident) -> None:
    services.postmortem_start(incident=incident, by=cast.responder)
    ref = incident.reference
    assert client_for(cast.viewer).get(reverse("postmortem-view", args=[ref])).status_code == 404
    assert client_for(cast.responder).get(reverse("postmortem-view", args=[ref])).status_code == 200
    assert client_for(cast.viewer).post(reverse("postmortem-edit", args=[ref]), {"section-summary": "x"}).status_code == 403
    assert client_for(cast.viewer).post(reverse("postmortem-start", args=[ref])).status_code == 403
    assert "read-only access" in client_for(cast.viewer).get(reverse("postmortem-edit", args=[ref])).content.decode()


def test_an_action_item_with_a_bad_url_is_refused(cast: Any, incident: Incident) -> None:
    services.postmortem_start(incident=incident, by=cast.responder)
    response = client_for(cast.responder).post(
        reverse("action-item-create", args=[incident.reference]), {"title": "x", "priority": "high", "external_url": "not a url"}
    )
    assert response.status_code == 400 and "Enter a valid URL" in response.content.decode()


def test_alerts_and_integrations_are_in_the_nav_by_role_and_refusals_are_a_page(cast: Any) -> None:
    manager = client_for(cast.owner).get("/").content.decode()
    assert 'href="/integrations/alerts/"' in manager and 'href="/integrations/"' in manager
    responder = client_for(cast.responder).get("/").content.decode()
    assert 'href="/integrations/alerts/"' in responder and 'href="/integrations/"' not in responder
    viewer = client_for(cast.viewer).get("/").content.decode()
    assert 'href="/integrations/alerts/"' not in viewer
    refused = client_for(cast.responder).get("/integrations/")
    assert refused.status_code == 403
    assert "Not allowed" in refused.content.decode() and "needs the manager role" in refused.content.decode()
    missing = client_for(cast.viewer).get("/no-such-page/")
    assert missing.status_code == 404 and "Not found" in missing.content.decode()
