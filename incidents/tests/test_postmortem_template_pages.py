"""Managers' pages for postmortem templates; choosing a template and reporting the
impact on the postmortem pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import Postmortem, PostmortemTemplate
from incidents.services.postmortem_templates import postmortem_template_create
from incidents.tests.test_views import client_for
from portal.tests.factories import declare

pytestmark = pytest.mark.django_db


def _management(total: int, initial: int = 0) -> dict[str, str]:
    return {"sections-TOTAL_FORMS": str(total), "sections-INITIAL_FORMS": str(initial),
            "sections-MIN_NUM_FORMS": "0", "sections-MAX_NUM_FORMS": "40"}  # fmt: skip


def test_a_manager_creates_a_template_with_ordered_sections_and_edits_it(cast: Any) -> None:
    client = client_for(cast.owner)
    page = client.get(reverse("postmortem-template-new")).content.decode()
    assert 'name="sections-0-title"' in page and "Add a section" in page
    form = {
        "name": "Customer-facing", "description": "For outages customers saw.", "is_default": "on",
        "sections-0-title": "Root cause", "sections-0-required": "on", "sections-0-ORDER": "2",
        "sections-1-title": "Customer impact", "sections-1-prompt": "Who noticed?", "sections-1-required": "on", "sections-1-ORDER": "1",
        "sections-2-title": "", "sections-2-ORDER": "",  # the empty row offered for a new section
        **_management(3),
    }  # fmt: skip
    response = client.post(reverse("postmortem-template-new"), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    template = PostmortemTemplate.objects.get(name="Customer-facing")
    assert template.is_default and not PostmortemTemplate.objects.get(name="Standard").is_default
    assert template.sections == [
        {"key": "customer-impact", "title": "Customer impact", "required": True, "prompt": "Who noticed?"},
        {"key": "root-cause", "title": "Root cause", "required": True, "prompt": ""},
    ]
    listed = client.get(reverse("postmortem-templates")).content.decode()
    assert "Customer-facing" in listed and "Default" in listed
    # The edit page shows the sections in order; one is removed, one added.
    edit_url = reverse("postmortem-template-edit", args=[template.pk])
    page = client.get(edit_url).content.decode()
    assert page.index("Customer impact") < page.index("Root cause")
    form = {
        "name": "Customer-facing", "description": "", "is_default": "on",
        "sections-0-title": "Customer impact", "sections-0-key": "customer-impact", "sections-0-ORDER": "1", "sections-0-DELETE": "on",
        "sections-1-title": "Root cause", "sections-1-key": "root-cause", "sections-1-required": "on", "sections-1-ORDER": "2",
        "sections-2-title": "Detection", "sections-2-ORDER": "3",
        **_management(3, initial=2),
    }  # fmt: skip
    assert client.post(edit_url, form).status_code == 302
    template.refresh_from_db()
    assert [(s["key"], s["required"]) for s in template.sections] == [("root-cause", True), ("detection", False)]


def test_errors_are_shown_on_the_row_that_has_them(cast: Any) -> None:
    client = client_for(cast.owner)
    form = {"name": "Dupes", "sections-0-title": "Impact", "sections-0-ORDER": "1", "sections-1-title": "impact",
            "sections-1-ORDER": "2", **_management(2)}  # fmt: skip
    response = client.post(reverse("postmortem-template-new"), form)
    assert response.status_code == 400
    page = response.content.decode()
    assert "is also the key of section 0" in page and 'value="Dupes"' in page
    assert not PostmortemTemplate.objects.filter(name="Dupes").exists()
    nothing = client.post(reverse("postmortem-template-new"), {"name": "Empty", **_management(1)})
    assert nothing.status_code == 400 and "at least one section" in nothing.content.decode()


def test_htmx_adds_a_section_row_and_counts_it(cast: Any) -> None:
    client = client_for(cast.owner)
    response = client.get(reverse("postmortem-template-section"), {"sections-TOTAL_FORMS": "3"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="sections-3-title"' in body and 'name="sections-3-ORDER"' in body
    assert 'id="id_sections-TOTAL_FORMS"' in body and 'value="4"' in body and 'hx-swap-oob="true"' in body


def test_template_pages_are_for_managers_only(cast: Any) -> None:
    template = PostmortemTemplate.objects.get(name="Standard")
    for user in (cast.responder, cast.viewer):
        client = client_for(user)
        for url in (reverse("postmortem-templates"), reverse("postmortem-template-new"),
                    reverse("postmortem-template-edit", args=[template.pk]), reverse("postmortem-template-section")):  # fmt: skip
            assert client.get(url).status_code == 403, url
        assert client.post(reverse("postmortem-template-delete", args=[template.pk])).status_code == 403
        assert "postmortems/templates/" not in client.get(reverse("postmortem-list")).content.decode()
    assert client_for(cast.owner).post(reverse("postmortem-template-delete", args=[template.pk])).status_code == 302
    assert not PostmortemTemplate.objects.exists()


def test_a_responder_chooses_the_template_and_reports_the_impact(cast: Any) -> None:
    chosen = postmortem_template_create(name="Short", sections=[{"title": "What happened", "required": True}], by=cast.owner)
    incident = declare(by=cast.responder, title="Search slow")
    client = client_for(cast.responder)
    edit_url = reverse("postmortem-edit", args=[incident.reference])
    page = client.get(edit_url).content.decode()
    assert f'<option value="{chosen.pk}">Short</option>' in page and "selected>Standard</option>" in page
    assert client.post(reverse("postmortem-start", args=[incident.reference]), {"template": str(chosen.pk)}).status_code == 302
    postmortem = Postmortem.objects.get(incident=incident)
    assert postmortem.template == chosen and list(postmortem.sections.values_list("key", flat=True)) == ["what-happened"]
    form = {"section-what-happened": "Search was slow.", "users_affected": "", "users_affected_percent": "7.5",
            "impact_duration_minutes": "125", "revenue_impact": "990.00"}  # fmt: skip
    assert client.post(edit_url, form).status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.users_affected is None and str(postmortem.users_affected_percent) == "7.50"
    assert postmortem.impact_duration == timedelta(minutes=125)
    bad = client.post(edit_url, form | {"users_affected_percent": "140"})
    assert bad.status_code == 400 and "less than or equal to 100" in bad.content.decode()
    view = client.get(reverse("postmortem-view", args=[incident.reference])).content.decode()
    facts = view[view.index('data-field="impact"'):][:600]
    assert "7.5%" in facts and "2 h 5 min" in facts and "990.00" in facts, facts
    # Without a reported time, the incident's own duration is shown, and said to be that.
    services.incident_change_status(incident=incident, status="resolved", by=cast.responder)
    assert client.post(edit_url, form | {"impact_duration_minutes": ""}).status_code == 302
    view = client.get(reverse("postmortem-view", args=[incident.reference])).content.decode()
    assert "(the incident&#x27;s duration)" in view or "(the incident's duration)" in view
    other = declare(by=cast.responder)
    unknown = client.post(reverse("postmortem-start", args=[other.reference]), {"template": "99999"}, follow=True)
    assert "valid choice" in unknown.content.decode() and not Postmortem.objects.filter(incident=other).exists()
