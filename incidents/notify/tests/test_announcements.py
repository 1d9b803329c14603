"""What subscribers receive: bodies from the message templates a manager chose, public
content only, and maintenance notices once each under a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import time_machine
from django.test import override_settings

from incidents.models import (
    MessageTemplate,
    Notification,
    NotificationDelivery,
    Service,
    SubscriberMessage,
    Visibility,
)
from incidents.notify import announce, subscribers
from incidents.notify.tests.receivers import http_receiver, smtp_server
from incidents.notify.tests.test_subscribers import SMTP, send_pending
from incidents.services import (
    incident_add_note,
    incident_change_status,
    incident_change_visibility,
    incident_post_update,
    maintenance_change_status,
    maintenance_schedule,
)
from portal.tests.factories import ServiceFactory, UserFactory, declare


@pytest.fixture
def quiet_tasks(monkeypatch: Any) -> None:
    """Fan-outs run inline; sending is done by the test (`send_pending`)."""
    from incidents.notify import tasks

    monkeypatch.setattr(tasks.fan_out, "delay", lambda pk: subscribers.fan_out(pk))
    monkeypatch.setattr(tasks.deliver, "apply_async", lambda args, countdown=None: None)
    monkeypatch.setattr(tasks.deliver_batch, "delay", lambda ids: None)


def _reader(address: str) -> Any:
    reader = subscribers.subscriber_create(kind="email", address=address)
    subscribers.subscriber_confirm(token=reader.token)
    NotificationDelivery.objects.filter(subscriber=reader).delete()  # the confirmation mail
    return reader


def _choose(kind: str, name: str, body: str) -> MessageTemplate:
    template = MessageTemplate.objects.create(kind=kind, name=name, body=body)
    SubscriberMessage.objects.update_or_create(kind=kind, defaults={"template": template})
    return template


SECRETS = ("ledger", "suspect", "vault", "sev2", "/incidents/inc-")


def test_subscribers_get_the_chosen_templates_and_never_anything_internal(db, django_capture_on_commit_callbacks, quiet_tasks) -> None:
    api = cast(Service, ServiceFactory(slug="api", name="Public API"))
    vault = cast(Service, ServiceFactory(slug="vault", name="Vault", visibility=Visibility.INTERNAL))
    boss = UserFactory(username="boss")
    _choose("initial", "Subscribers: opened", "OPENED {title} hits {services} since {started_at}. {incident_url}")
    _choose("update", "Subscribers: update", "UPDATE ({status}) {update}")
    template = _choose("resolution", "Subscribers: resolved", "RESOLVED {title} after {duration}. Last word: {update}")
    _reader("reader@example.com")
    with http_receiver() as rx, smtp_server() as (port, box), override_settings(EMAIL_PORT=port, **SMTP):
        hook = subscribers.subscriber_create(kind="webhook", address=rx.url + "/status")
        with django_capture_on_commit_callbacks(execute=True):
            # a private incident with an internal service: nobody outside hears of it
            private = declare(title="Ledger vault drift", sev="SEV2", impacts={vault: "major_outage"})
            incident_add_note(incident=private, body="The vault key leaked", by=boss)
            incident_change_status(incident=private, status="resolved", by=boss)
            incident = declare(title="API errors", sev="SEV2", impacts={api: "partial_outage", vault: "major_outage"})
            incident_add_note(incident=incident, body="Internal: the ledger job is the suspect", by=boss)
            incident_change_visibility(incident=incident, visibility=Visibility.PUBLIC, by=boss)
        with django_capture_on_commit_callbacks(execute=True):
            incident_post_update(incident=incident, body="Some API calls fail.", by=boss, status="identified")
        with django_capture_on_commit_callbacks(execute=True):
            # resolved by posting the last update: one message, the resolution, quoting it
            incident_post_update(incident=incident, body="All calls succeed again.", by=boss, status="resolved")
        send_pending()
    mails = [(m[2]["Subject"], m[2].get_content().replace("\r\n", "\n")) for m in box.messages]
    hooks = [r.json() for r in rx.requests]
    assert [s for s, _ in mails] == ["API errors: Investigating", "API errors: Identified", "API errors: Resolved"]
    assert [(h["event"], h["subject"]) for h in hooks] == [
        ("opened", "API errors: Investigating"), ("update", "API errors: Identified"), ("resolved", "API errors: Resolved")]
    url = f"http://status.test/status/incidents/{incident.pk}/"
    assert mails[0][1].startswith("OPENED API errors hits Public API since ") and url in mails[0][1]
    assert hooks[0]["text"] == mails[0][1].split("\n\nOpen:")[0]
    assert hooks[1]["text"] == "UPDATE (identified) Some API calls fail."
    assert hooks[2]["text"].startswith("RESOLVED API errors after ") and hooks[2]["text"].endswith("Last word: All calls succeed again.")
    everything = " ".join(body for _, body in mails).lower() + " ".join(str(h) for h in hooks).lower()
    assert not [word for word in SECRETS if word in everything]
    assert hook.pk and not Notification.objects.filter(incident=private, kind="public").exists()

    # editing the chosen template changes what the next subscriber message says
    template.body = "DONE: {title}"
    template.save()
    with django_capture_on_commit_callbacks(execute=True):
        incident_change_status(incident=incident, status="investigating", by=boss, reason="It came back")
        incident_change_status(incident=incident, status="resolved", by=boss)
    assert list(Notification.objects.filter(kind="public", event="resolved").order_by("pk").values_list("body", flat=True)) == [
        hooks[2]["text"], "DONE: API errors"]


def test_without_a_chosen_template_the_built_in_wording_is_used(db, django_capture_on_commit_callbacks, quiet_tasks) -> None:
    api = cast(Service, ServiceFactory(slug="api", name="Public API"))
    MessageTemplate.objects.create(kind="update", name="Commanders' update", body="Not for subscribers")  # not chosen
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(title="Slow", sev="SEV3", impacts={api: "degraded_performance"}, visibility=Visibility.PUBLIC)
        incident_post_update(incident=incident, body="Looking.", by=UserFactory())
    bodies = list(Notification.objects.filter(kind="public").order_by("pk").values_list("event", "body"))
    url = f"{subscribers.settings.PUBLIC_URL}/status/incidents/{incident.pk}/"
    assert bodies == [("opened", f"We are investigating an issue affecting Public API.\n\nFollow it on {url}"),
                      ("update", f"Looking.\n\nFollow it on {url}")]


@override_settings(MAINTENANCE_NOTICE_HOURS=72)
def test_maintenance_is_announced_at_the_notice_period_then_started_and_completed_once_each(
    db, django_capture_on_commit_callbacks, quiet_tasks
) -> None:
    api = cast(Service, ServiceFactory(slug="api", name="Public API"))
    rack = cast(Service, ServiceFactory(slug="rack", name="Rack 7", visibility=Visibility.INTERNAL))
    boss = UserFactory(username="boss")
    reader = _reader("reader@example.com")
    _choose("maintenance_notice", "Subscribers: maintenance", "NOTICE {title} {window} on {services}")
    start = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)
    with time_machine.travel(start - timedelta(days=10), tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            window = maintenance_schedule(title="Database upgrade", scheduled_start=start, scheduled_end=start + timedelta(hours=2),
                                          services=[api, rack], by=boss)
            maintenance_schedule(title="Rack move", scheduled_start=start, scheduled_end=start + timedelta(hours=2), services=[rack],
                                 by=boss, visibility=Visibility.INTERNAL)
        public = Notification.objects.filter(kind="public")
        assert not public.exists()  # ten days ahead: not yet
        clock.move_to(start - timedelta(hours=72, minutes=1))
        with django_capture_on_commit_callbacks(execute=True):
            assert announce.maintenance_notices_sweep() == 0
        clock.move_to(start - timedelta(hours=71, minutes=59))
        with django_capture_on_commit_callbacks(execute=True):
            assert announce.maintenance_notices_sweep() == 1
            assert announce.maintenance_notices_sweep() == 0  # a second beat run, a redelivered task
        clock.move_to(start)
        with django_capture_on_commit_callbacks(execute=True):
            maintenance_change_status(window=window, status="in_progress", by=boss)
        with django_capture_on_commit_callbacks(execute=True):
            maintenance_change_status(window=window, status="verifying", by=boss)
            maintenance_change_status(window=window, status="in_progress", by=boss)  # not started twice
        clock.move_to(start + timedelta(hours=2))
        with django_capture_on_commit_callbacks(execute=True):
            maintenance_change_status(window=window, status="completed", by=boss)
            assert announce.maintenance_notices_sweep() == 0
        # the events delivered again (a redelivered handler) announce nothing more
        for kind in ("maintenance.scheduled", "maintenance.status_changed"):
            announce.on_event(announce.events.DomainEvent(kind=kind, public=True, data={"maintenance_id": window.pk}))
    sent = list(public.order_by("pk").values_list("event", "subject", "body"))
    assert sent == [
        ("maintenance_scheduled", "Scheduled maintenance: Database upgrade",
         "NOTICE Database upgrade 2026-03-20 02:00-04:00 UTC on Public API"),
        ("maintenance_started", "Maintenance started: Database upgrade",
         "The scheduled maintenance has started (2026-03-20 02:00-04:00 UTC).\nAffected: Public API"),
        ("maintenance_completed", "Maintenance completed: Database upgrade", "The scheduled maintenance is complete.\nAffected: Public API"),
    ]
    assert NotificationDelivery.objects.filter(subscriber=reader).count() == 3


@override_settings(MAINTENANCE_NOTICE_HOURS=72)
def test_a_window_scheduled_inside_the_notice_period_is_announced_at_once(db, django_capture_on_commit_callbacks, quiet_tasks) -> None:
    api = cast(Service, ServiceFactory(slug="api", name="Public API"))
    start = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)
    with time_machine.travel(start - timedelta(hours=5), tick=False), django_capture_on_commit_callbacks(execute=True):
        maintenance_schedule(title="Quick fix", scheduled_start=start, scheduled_end=start + timedelta(hours=1), services=[api], by=None)
    assert list(Notification.objects.filter(kind="public").values_list("event", flat=True)) == ["maintenance_scheduled"]
