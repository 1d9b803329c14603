"""The postmortem_templates, maintenance and people sections: applied from the
fixture documents, re-applied, exported and applied back; errors listed by path."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
import yaml
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command

from incidents.models import (
    MaintenanceRecurrence,
    MaintenanceStatus,
    MaintenanceWindow,
    Postmortem,
    PostmortemTemplate,
)
from incidents.services import maintenance_change_status, postmortem_start
from portal.config import runner
from portal.config.tests.test_config import FIXTURES, apply, secrets  # noqa: F401 - the environment the fixtures name
from portal.models import OrgRole, role_of
from portal.tests.factories import declare

pytestmark = pytest.mark.django_db
User = get_user_model()
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def _document(name: str) -> dict:
    return runner.load((FIXTURES / name).read_text())


def _export() -> str:
    out = io.StringIO()
    call_command("portal_export", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("name", ["kubernetes.yaml", "p1_p4.yaml", "p0_p3.yaml"])
def test_every_fixture_applies_reapplies_and_its_export_applies_back_unchanged(name: str) -> None:
    with time_machine.travel(NOW, tick=False):
        apply(name, prune=True)
        assert runner.run(_document(name), dry_run=False, prune=True).changes == []
        exported = _export()
        assert runner.run(runner.load(exported), dry_run=False, prune=True).changes == []
        assert _export() == exported


def test_the_p1_p4_team_has_a_weekly_maintenance_and_a_one_off_window() -> None:
    with time_machine.travel(NOW, tick=False):
        out = apply("p1_p4.yaml", prune=True)
        assert "+ maintenance Weekly database maintenance" in out, out
    recurrence = MaintenanceRecurrence.objects.get(title="Weekly database maintenance")
    assert recurrence.rule == "FREQ=WEEKLY;BYDAY=TU" and recurrence.duration == timedelta(hours=1)
    assert sorted(recurrence.services.values_list("slug", flat=True)) == ["orders", "storefront"]
    starts = list(recurrence.windows.order_by("scheduled_start").values_list("scheduled_start", flat=True))
    assert starts[0] == datetime(2026, 3, 3, 2, 0, tzinfo=UTC) and len(starts) == 5
    assert all(s.weekday() == 1 and (s.hour, s.minute) == (2, 0) for s in starts)
    window = MaintenanceWindow.objects.get(title="Storefront platform upgrade")
    assert window.recurrence is None and window.scheduled_start == datetime(2035, 3, 4, 21, 0, tzinfo=UTC)
    assert window.scheduled_end - window.scheduled_start == timedelta(hours=2)
    assert window.description == "The storefront shows a maintenance page."


def test_a_changed_rule_replaces_the_windows_not_started_and_keeps_the_others() -> None:
    with time_machine.travel(NOW, tick=False):
        apply("p1_p4.yaml", prune=True)
        recurrence = MaintenanceRecurrence.objects.get()
        first = recurrence.windows.order_by("scheduled_start")[0]
    with time_machine.travel(datetime(2026, 3, 3, 2, 5, tzinfo=UTC), tick=False):
        maintenance_change_status(window=first, status=MaintenanceStatus.IN_PROGRESS, by=None)
        document = _document("p1_p4.yaml")
        document["maintenance"][0] |= {"rrule": "FREQ=WEEKLY;BYDAY=TH", "duration_minutes": 90}
        plan = runner.run(document, dry_run=True)
        assert [(c.key, c.action, sorted(c.fields)) for c in plan.changes] == [
            ("Weekly database maintenance", "update", ["duration_minutes", "rrule"])]  # fmt: skip
        runner.run(document, dry_run=False)
    windows = list(recurrence.windows.order_by("scheduled_start"))
    assert windows[0].pk == first.pk and windows[0].status == MaintenanceStatus.IN_PROGRESS
    assert windows[1].scheduled_start == datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    assert all(w.scheduled_start.weekday() == 3 for w in windows[1:])
    assert all(w.scheduled_end - w.scheduled_start == timedelta(minutes=90) for w in windows[1:])


def test_prune_keeps_maintenance_under_way_and_history() -> None:
    with time_machine.travel(NOW, tick=False):
        apply("p1_p4.yaml", prune=True)
        window = MaintenanceWindow.objects.get(title="Storefront platform upgrade")
        maintenance_change_status(window=window, status=MaintenanceStatus.IN_PROGRESS, by=None)
        document = _document("p1_p4.yaml")
        document["maintenance"] = []
        result = runner.run(document, dry_run=False, prune=True)
        assert [(c.key, c.action) for c in result.changes] == [("Weekly database maintenance", "delete")]
        assert MaintenanceWindow.objects.filter(pk=window.pk).exists()
        assert not MaintenanceRecurrence.objects.exists() and not MaintenanceWindow.objects.filter(status="scheduled").exists()
        maintenance_change_status(window=window, status=MaintenanceStatus.COMPLETED, by=None)
        # A document that still names the completed window, unchanged, changes nothing.
        again = _document("p1_p4.yaml")
        again["maintenance"] = again["maintenance"][1:]
        assert runner.run(again, dry_run=False, prune=True).changes == []
        assert MaintenanceWindow.objects.filter(title="Storefront platform upgrade").count() == 1


def test_the_p0_p3_team_starts_postmortems_from_its_template(cast) -> None:
    apply("p0_p3.yaml", prune=True)
    template = PostmortemTemplate.objects.get()
    assert template.name == "P0-P3 review" and template.is_default  # the seeded Standard was pruned
    assert [s["key"] for s in template.sections] == [
        "summary", "customer-impact", "timeline", "root-cause", "detection", "action-items-review"]  # fmt: skip
    postmortem = postmortem_start(incident=declare(by=cast.responder, sev="P1"), by=cast.responder)
    assert postmortem.template == template
    assert list(Postmortem.objects.get().sections.filter(required=True).values_list("key", flat=True)) == [
        "summary", "customer-impact", "root-cause"]  # fmt: skip
    # Reordering sections is a planned change of the template.
    document = _document("p0_p3.yaml")
    document["postmortem_templates"][0]["sections"].reverse()
    plan = runner.run(document, dry_run=True, prune=True)
    assert [(c.section, c.key, list(c.fields)) for c in plan.changes] == [("postmortem_templates", "P0-P3 review", ["sections"])]


def test_people_are_created_invited_only_when_asked_and_deactivated_by_prune(settings, django_capture_on_commit_callbacks) -> None:
    from portal.celery import app

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            apply("kubernetes.yaml", dry_run=True)
        assert not User.objects.filter(username="jonas").exists() and mail.outbox == []
        with django_capture_on_commit_callbacks(execute=True):
            apply("kubernetes.yaml")
        assert [m.to for m in mail.outbox] == [["jonas@example.com"]]  # the one item with invite: true
        with django_capture_on_commit_callbacks(execute=True):
            assert apply("kubernetes.yaml").strip().endswith("Applied: 0 to create, 0 to update, 0 to delete.")
        assert len(mail.outbox) == 1
    finally:
        app.conf.task_always_eager = False
    amara = User.objects.get(username="amara")
    assert role_of(amara) == OrgRole.MANAGER and amara.get_full_name() == "Amara Okafor" and not amara.has_usable_password()
    assert sorted(User.objects.get(username="jonas").teams.values_list("slug", flat=True)) == ["checkout", "platform"]
    assert "password" not in _export()
    document = _document("kubernetes.yaml")
    document["people"] = [p for p in document["people"] if p["username"] != "lee"]
    document["people"][0]["role"] = "responder"
    result = runner.run(document, dry_run=False, prune=True)
    assert sorted((c.key, c.action) for c in result.changes if c.section == "people") == [("amara", "update"), ("lee", "delete")]
    assert User.objects.filter(username="lee", is_active=False).exists()  # deactivated, not deleted
    assert runner.run(document, dry_run=False, prune=True).changes == []
    assert "active: false" in _export()


def test_bad_items_of_the_new_sections_are_listed_by_path(cast) -> None:
    document = yaml.safe_load("""
version: 1
postmortem_templates:
- {name: A, default: true, sections: [{title: Impact}, {title: impact}]}
- {name: B, default: true, sections: [{title: Summary}]}
maintenance:
- {title: W, services: [api], start: "2026-03-03T02:00:00Z", duration_minutes: 60, rrule: "FREQ=MINUTELY"}
- {title: X, services: [nope], start: "2026-03-03T02:00:00Z", duration_minutes: 60}
- {title: Y, services: [api], start: "not a time", duration_minutes: 60}
- {title: Z, services: [api], start: "2026-03-03T02:00:00", duration_minutes: 60, timezone: Mars/Olympus}
people:
- {username: ada, teams: [no-such-team]}
- {username: owner, role: viewer}
""")
    with pytest.raises(runner.DocumentInvalid) as refused:
        runner.run(document, dry_run=False, by=cast.owner)
    errors = refused.value.errors
    expected = [
        "postmortem_templates[0].sections[1].key: 'impact' is also the key of section 0",
        "postmortem_templates[1].default: only one template can be the default (also [0])",
        "maintenance[0].rrule: At most one maintenance a day",
        "maintenance[1].services: no service 'nope'",
        "maintenance[2].start: 'not a time' is not an ISO 8601 date and time",
        "maintenance[3].timezone: 'Mars/Olympus' is not an IANA time zone",
        "people[0].teams: No team no-such-team.",
        "people[1]: You cannot demote or deactivate your own account",
    ]
    for line in expected:
        assert any(e.startswith(line) for e in errors), (line, errors)
    assert not PostmortemTemplate.objects.filter(name__in=["A", "B"]).exists() and not MaintenanceWindow.objects.exists()
    assert not User.objects.filter(username="ada").exists() and role_of(User.objects.get(username="owner")) == OrgRole.MANAGER
