"""The admin cannot change what the services guard: it shows those fields
read-only, or saves through the service."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from incidents import services
from incidents.models import (
    Incident,
    Integration,
    MaintenanceWindow,
    Postmortem,
    PostmortemStatus,
    TimelineEvent,
)
from portal.tests.factories import declare
from portal.tests.support import present

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


def _post_change_form(client: Client, url: str, changes: dict[str, Any]) -> Any:
    """Submit the admin change form as a browser would: every field it shows, as
    shown, with `changes` applied."""
    page = client.get(url)
    assert page.status_code == 200
    adminform = page.context["adminform"]
    data: dict[str, Any] = {}
    for name, field in adminform.form.fields.items():
        value = adminform.form.initial.get(name, field.initial)
        if hasattr(value, "all"):
            value = [v.pk for v in value.all()]
        elif isinstance(value, list):
            value = [getattr(v, "pk", v) for v in value]
        if isinstance(value, datetime):  # the admin's split date and time inputs
            local = timezone.localtime(value)
            data[f"{name}_0"], data[f"{name}_1"] = local.date().isoformat(), local.time().isoformat()
            continue
        data[name] = "" if value is None else value
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
            data[f"{management.prefix}-{name}"] = management.initial.get(name, 0)
        for form in inline.formset.initial_forms:
            for name in form.fields:
                value = form[name].value()
                data[form.add_prefix(name)] = "" if value is None else getattr(value, "pk", value)
    data.update(changes)
    response = client.post(url, {k: v for k, v in data.items() if v != []})
    if response.status_code != 302:
        errors = [response.context["adminform"].form.errors]
        errors += [i.formset.errors for i in response.context["inline_admin_formsets"]]
        raise AssertionError(f"the admin refused the form: {errors}")
    return response


def test_renaming_an_incident_in_the_admin_writes_its_timeline_entry(boss: Client, cast: Any) -> None:
    incident = declare(by=cast.responder)
    response = _post_change_form(boss, f"/admin/incidents/incident/{incident.pk}/change/", {"title": "Checkout is slow"})
    assert response.status_code == 302
    assert Incident.objects.get(pk=incident.pk).title == "Checkout is slow"
    edited = TimelineEvent.objects.filter(incident=incident, body="Details edited").get()
    assert edited.details["changes"]["title"] == {"from": "Checkout is failing", "to": "Checkout is slow"}
    assert present(edited.author).username == "boss"


def test_a_postmortem_cannot_be_published_from_the_admin(boss: Client, cast: Any) -> None:
    incident = declare(by=cast.responder)
    services.incident_change_status(incident=incident, status="resolved", by=cast.responder)
    postmortem = services.postmortem_start(incident=incident, by=cast.responder)
    url = f"/admin/incidents/postmortem/{postmortem.pk}/change/"
    assert "status" not in boss.get(url).context["adminform"].form.fields
    response = _post_change_form(boss, url, {"status": PostmortemStatus.PUBLISHED})
    assert response.status_code == 302
    assert Postmortem.objects.get(pk=postmortem.pk).status == PostmortemStatus.DRAFT
    assert boss.get("/admin/incidents/postmortem/add/").status_code == 403


def test_a_maintenance_windows_status_is_read_only_in_the_admin(boss: Client, cast: Any) -> None:
    start = timezone.now() + timedelta(hours=1)
    window = services.maintenance_schedule(
        title="DB upgrade", scheduled_start=start, scheduled_end=start + timedelta(hours=1), services=[cast.service], by=cast.owner
    )
    url = f"/admin/incidents/maintenancewindow/{window.pk}/change/"
    response = _post_change_form(boss, url, {"status": "completed", "title": "Database upgrade"})
    assert response.status_code == 302
    window = MaintenanceWindow.objects.get(pk=window.pk)
    assert (window.status, window.title) == ("scheduled", "Database upgrade")
    assert boss.get("/admin/incidents/maintenancewindow/add/").status_code == 403


def test_an_integrations_routing_is_read_only_in_the_admin(boss: Client, cast: Any) -> None:
    from incidents.integrations.services import integration_create

    integration, _token = integration_create(name="Prometheus", kind="alertmanager", by=cast.owner)
    url = f"/admin/incidents/integration/{integration.pk}/change/"
    form_fields = boss.get(url).context["adminform"].form.fields
    assert not {"routing_rules", "severity_mapping", "group_by"} & set(form_fields)
    response = _post_change_form(boss, url, {"routing_rules": '[{"match": {"x": "("}, "services": ["nope"]}]'})
    assert response.status_code == 302
    assert Integration.objects.get(pk=integration.pk).routing_rules == []
    assert boss.get("/admin/incidents/integration/add/").status_code == 403


def test_catalogue_edits_in_the_admin_go_through_the_catalogue_services(
    boss: Client, cast: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from incidents import events
    from incidents.models import Service, Severity

    seen: list[events.DomainEvent] = []
    events.subscribe(seen.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _post_change_form(boss, f"/admin/incidents/service/{cast.service.pk}/change/", {"name": "Payments API"})
            added = boss.post("/admin/incidents/servicegroup/add/", {"slug": "edge", "name": "Edge", "description": "", "display_order": 0})
            assert added.status_code == 302
            sev = Severity.objects.get(name="SEV3")
            _post_change_form(boss, f"/admin/incidents/severity/{sev.pk}/change/", {"description": "Minor"})
    finally:
        events.unsubscribe(seen.append)
    assert Service.objects.get(pk=cast.service.pk).name == "Payments API"
    assert [(e.kind, e.data["by"], e.data["fields"]) for e in seen] == [
        ("catalog.service_updated", "boss", "name"),
        ("catalog.service_group_created", "boss", "name,slug"),  # what differs from the defaults
        ("catalog.severity_updated", "boss", "description"),
    ]


def test_a_services_links_and_dependencies_edited_in_the_admin_go_through_the_service(
    boss: Client, cast: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from incidents import events

    url = f"/admin/incidents/service/{cast.service.pk}/change/"
    page = boss.get(url)
    prefixes = [inline.formset.prefix for inline in page.context["inline_admin_formsets"]]
    links, dependencies = prefixes
    seen: list[events.DomainEvent] = []
    events.subscribe(seen.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _post_change_form(boss, url, {
                f"{links}-TOTAL_FORMS": 1, f"{links}-0-kind": "dashboard", f"{links}-0-label": "Grafana\x00",
                f"{links}-0-url": "https://grafana.example.com/d/api",
                f"{dependencies}-TOTAL_FORMS": 1, f"{dependencies}-0-depends_on": cast.internal_service.pk,
            })
            _post_change_form(boss, url, {})  # saved again unchanged: no second event
    finally:
        events.unsubscribe(seen.append)
    service = type(cast.service).objects.get(pk=cast.service.pk)
    assert list(service.links.values_list("kind", "label", "url")) == [("dashboard", "Grafana", "https://grafana.example.com/d/api")]
    assert list(service.depends_on.values_list("slug", flat=True)) == [cast.internal_service.slug]
    assert [(e.kind, e.data["by"], e.data["fields"]) for e in seen] == [("catalog.service_updated", "boss", "depends_on,links")]


def test_a_service_cannot_be_made_to_depend_on_itself_in_the_admin(boss: Client, cast: Any) -> None:
    url = f"/admin/incidents/service/{cast.service.pk}/change/"
    dependencies = boss.get(url).context["inline_admin_formsets"][1].formset.prefix
    with pytest.raises(AssertionError, match="refused"):
        _post_change_form(boss, url, {f"{dependencies}-TOTAL_FORMS": 1, f"{dependencies}-0-depends_on": cast.service.pk})
    assert not cast.service.depends_on.exists()


def test_postmortem_template_sections_edited_in_the_admin_are_checked_and_saved_through_the_service(boss: Client) -> None:
    from incidents.models import PostmortemTemplate

    bad = boss.post("/admin/incidents/postmortemtemplate/add/", {"name": "Broken", "description": "", "sections": '[{"prompt": "no title"}]'})
    assert bad.status_code == 200 and "sections.0.title" in bad.content.decode()
    assert not PostmortemTemplate.objects.filter(name="Broken").exists()
    good = boss.post("/admin/incidents/postmortemtemplate/add/",
                     {"name": "Short", "description": "", "is_default": "on", "sections": '[{"title": "What happened", "required": true}]'})  # fmt: skip
    assert good.status_code == 302
    template = PostmortemTemplate.objects.get(name="Short")
    assert template.sections == [{"key": "what-happened", "title": "What happened", "required": True, "prompt": ""}]
    assert list(PostmortemTemplate.objects.filter(is_default=True).values_list("name", flat=True)) == ["Short"]
