from __future__ import annotations

import re
from typing import Any, cast

from django.test import Client, override_settings

from incidents.models import NotificationDelivery, Service, StatusSubscriber, Visibility
from incidents.notify import services, subscribers
from incidents.notify.tests.receivers import http_receiver, smtp_server
from incidents.services import (
    incident_add_note,
    incident_change_status,
    incident_change_visibility,
    incident_post_update,
)
from portal.tests.factories import ServiceFactory, UserFactory, declare

SMTP = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
        "EMAIL_USE_TLS": False, "EMAIL_USE_SSL": False, "PUBLIC_URL": "http://status.test"}


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not in {text!r}"
    return match.group(1)


def send_pending() -> None:
    """As the fan-out's batch task does: every pending row over one SMTP connection."""
    ids = list(NotificationDelivery.objects.filter(state="pending").order_by("pk").values_list("pk", flat=True))
    outcome = services.deliveries_attempt_batch(ids)
    assert outcome == ({"delivered": len(ids)} if ids else {})


def fan_out_all(capture: Any) -> None:
    from incidents.models import Notification

    for pk in Notification.objects.filter(kind="public").values_list("pk", flat=True):
        subscribers.fan_out(pk)


def test_email_double_opt_in_per_component_updates_and_one_click_unsubscribe(db, django_capture_on_commit_callbacks, monkeypatch) -> None:
    from incidents.notify import tasks

    monkeypatch.setattr(tasks.fan_out, "delay", lambda pk: subscribers.fan_out(pk))
    monkeypatch.setattr(tasks.deliver, "apply_async", lambda args, countdown=None: None)
    monkeypatch.setattr(tasks.deliver_batch, "delay", lambda ids: None)
    api = cast(Service, ServiceFactory(slug="api", name="Public API"))
    web = cast(Service, ServiceFactory(slug="web", name="Website"))
    secret = cast(Service, ServiceFactory(slug="ledger", name="Ledger", visibility=Visibility.INTERNAL))
    boss = UserFactory(username="boss")
    browser = Client(enforce_csrf_checks=True)
    with smtp_server() as (port, box), override_settings(EMAIL_PORT=port, **SMTP):
        page = browser.get("/status/subscribe/")
        token = found(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
        with django_capture_on_commit_callbacks(execute=True):
            answer = browser.post("/status/subscribe/", {"csrfmiddlewaretoken": token, "kind": "email", "address": "Reader@Example.com",
                                                         "components": [api.pk]})
            other = subscribers.subscriber_create(kind="email", address="web-only@example.com", components=[web])
        assert answer.status_code == 200 and b"Check your inbox" in answer.content
        send_pending()
        assert [m[1] for m in box.messages] == [["reader@example.com"], ["web-only@example.com"]]
        confirm = found(r"Confirm: http://status.test(\S+)", box.messages[0][2].get_content())
        assert browser.get(confirm).status_code == 200 and not StatusSubscriber.objects.get(address="reader@example.com").is_active
        token = found(r'name="csrfmiddlewaretoken" value="([^"]+)"', browser.get(confirm).content.decode())
        assert browser.post(confirm, {"csrfmiddlewaretoken": token}).status_code == 200
        subscribers.subscriber_confirm(token=other.token)

        with django_capture_on_commit_callbacks(execute=True):
            hidden = declare(title="Ledger drift", sev="SEV2", impacts={secret: "major_outage"})
            incident = declare(title="API errors", sev="SEV2", impacts={api: "partial_outage"}, visibility=Visibility.PUBLIC)
            incident_add_note(incident=incident, body="Internal: the ledger job is the suspect", by=boss)
            incident_post_update(incident=incident, body="Some API calls fail. We are on it.", by=boss)
        box.messages.clear()
        send_pending()
        assert [(m[1], m[2]["Subject"]) for m in box.messages] == [
            (["reader@example.com"], "API errors: Investigating"), (["reader@example.com"], "API errors: Investigating"),
        ]
        update = box.messages[1][2]
        unsubscribe = found(r"Unsubscribe: http://status.test(\S+)", update.get_content())
        assert update["List-Unsubscribe"].strip() == f"<http://status.test{unsubscribe}>"  # folded: a long header
        assert update["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = update.get_content()
        assert "Some API calls fail. We are on it." in text and f"http://status.test/status/incidents/{incident.pk}/" in text
        assert "ledger" not in text.lower() and "/incidents/INC-" not in text and "SEV2" not in text
        assert not NotificationDelivery.objects.filter(incident=hidden).exists()

        assert Client().post(unsubscribe).status_code == 200  # one click: no session, no CSRF token
        box.messages.clear()
        with django_capture_on_commit_callbacks(execute=True):
            incident_change_status(incident=incident, status="resolved", by=boss)
        send_pending()
        assert box.messages == []
    fan_out_all(django_capture_on_commit_callbacks)  # a redelivered fan-out
    assert NotificationDelivery.objects.filter(subscriber__isnull=False).count() == 4  # 2 confirmations, 2 updates


def test_a_webhook_subscriber_gets_public_changes_in_our_signed_shape(db, django_capture_on_commit_callbacks, monkeypatch) -> None:
    from incidents.notify import tasks

    monkeypatch.setattr(tasks.fan_out, "delay", lambda pk: subscribers.fan_out(pk))
    monkeypatch.setattr(tasks.deliver, "apply_async", lambda args, countdown=None: None)
    monkeypatch.setattr(tasks.deliver_batch, "delay", lambda ids: None)
    boss = UserFactory(username="boss")
    with http_receiver() as rx, override_settings(PUBLIC_URL="http://status.test"):
        sub = subscribers.subscriber_create(kind="webhook", address=rx.url + "/status")
        with django_capture_on_commit_callbacks(execute=True):
            incident = declare(title="Slow pages", sev="SEV3")
            incident_change_visibility(incident=incident, visibility=Visibility.PUBLIC, by=boss)
        send_pending()
    body = rx.requests[0].json()
    assert body == {
        "id": f"n{body['id'].split(':')[0][1:]}:s{sub.pk}", "type": "public", "event": "opened", "subject": "Slow pages: Investigating",
        "text": f"We are investigating an issue affecting our services.\n\nFollow it on http://status.test/status/incidents/{incident.pk}/",
        "incident": {"id": incident.pk, "url": f"http://status.test/status/incidents/{incident.pk}/"},
        "url": f"http://status.test/status/incidents/{incident.pk}/",
        "unsubscribe_url": f"http://status.test/status/subscribe/unsubscribe/{sub.token}/",
        "created_at": body["created_at"],
    }


def test_public_maintenance_is_announced_when_scheduled_started_and_completed(db, django_capture_on_commit_callbacks, monkeypatch) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from incidents.models import Notification
    from incidents.notify import tasks
    from incidents.services import maintenance_change_status, maintenance_schedule

    monkeypatch.setattr(tasks.fan_out, "delay", lambda pk: subscribers.fan_out(pk))
    monkeypatch.setattr(tasks.deliver_batch, "delay", lambda ids: None)
    api = cast(Service, ServiceFactory(slug="api", name="Public API"))
    boss = UserFactory(username="boss")
    reader = subscribers.subscriber_create(kind="email", address="reader@example.com")
    subscribers.subscriber_confirm(token=reader.token)
    start = timezone.now() + timedelta(days=3)
    with django_capture_on_commit_callbacks(execute=True):
        window = maintenance_schedule(title="Database upgrade", scheduled_start=start, scheduled_end=start + timedelta(hours=1),
                                      services=[api], by=boss)
        hidden = maintenance_schedule(title="Internal rack move", scheduled_start=start, scheduled_end=start + timedelta(hours=1),
                                      services=[api], by=boss, visibility=Visibility.INTERNAL)
    with django_capture_on_commit_callbacks(execute=True):
        maintenance_change_status(window=window, status="in_progress", by=boss)
        maintenance_change_status(window=hidden, status="in_progress", by=boss)
    with django_capture_on_commit_callbacks(execute=True):
        maintenance_change_status(window=window, status="completed", by=boss)
    sent = Notification.objects.filter(kind="public").order_by("pk")
    assert list(sent.values_list("event", "subject")) == [
        ("maintenance_scheduled", "Scheduled maintenance: Database upgrade"),
        ("maintenance_started", "Maintenance started: Database upgrade"),
        ("maintenance_completed", "Maintenance completed: Database upgrade"),
    ]
    assert NotificationDelivery.objects.filter(subscriber=reader, notification__kind="public").count() == 3
