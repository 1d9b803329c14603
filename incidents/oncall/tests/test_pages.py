from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from django.test import override_settings

from incidents.models import ContactMethod, Escalation, Impact, NotificationRule
from incidents.notify import services as notify
from incidents.oncall import paging
from portal.tests.factories import ServiceFactory, declare

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def test_schedule_pages_show_who_is_on_call_and_the_next_fourteen_days(crew, client) -> None:
    client.force_login(crew["bob"])
    with time_machine.travel(T0, tick=False):
        listing = client.get("/oncall/schedules/")
        detail = client.get("/oncall/schedules/primary/")
        calendar = client.get("/oncall/schedules/primary/calendar.ics")
        mine = client.get("/oncall/me/calendar.ics")
    assert listing.status_code == 200 and b"Ada Lovelace" in listing.content
    assert detail.status_code == 200 and b"Next 14 days" in detail.content and b"Bob Stone" in detail.content
    assert calendar["Content-Type"] == "text/calendar; charset=utf-8"
    body = calendar.content.decode()
    # Ada's week ends at the Monday 08:00 UTC handoff (09:00 CET), Bob's at the next one
    assert "DTSTART:20260304T100000Z\r\nDTEND:20260309T080000Z\r\nSUMMARY:On call: Ada Lovelace" in body
    assert "DTSTART:20260309T080000Z\r\nDTEND:20260316T080000Z\r\nSUMMARY:On call: Bob Stone" in body
    assert "SUMMARY:On call: Primary" in mine.content.decode() and "Ada" not in mine.content.decode()
    assert client.get("/oncall/policies/").status_code == 200


def test_my_notification_settings_add_methods_and_rules_and_refuse_bad_input(crew, client) -> None:
    client.force_login(crew["ada"])
    assert client.post("/oncall/me/", {"form": "method", "kind": "slack", "target": "https://hooks.slack.com/services/T/B/C"}).status_code == 302
    method = ContactMethod.objects.get(user=crew["ada"])
    assert client.post("/oncall/me/", {"form": "rule", "contact_method": method.pk, "delay_minutes": 2}).status_code == 302
    refused = client.post("/oncall/me/", {"form": "method", "kind": "webhook", "target": "http://169.254.169.254/"})
    assert refused.status_code == 200 and b"deny list" in refused.content
    assert ContactMethod.objects.count() == 1 and NotificationRule.objects.get().delay_minutes == 2
    page = client.get("/oncall/me/")
    assert b"After 2 min" in page.content


def test_the_war_room_shows_paging_and_acknowledges_and_the_dashboard_names_who_is_on_call(crew, client, django_capture_on_commit_callbacks) -> None:
    service = ServiceFactory.create(slug="checkout", name="Checkout")  # paged through the default policy
    client.force_login(crew["bob"])
    with time_machine.travel(T0, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            incident = declare(title="Checkout down", sev="SEV1", impacts={service: Impact.MAJOR_OUTAGE})
        paging.escalation_run_step(escalation_id=Escalation.objects.get(incident=incident).pk, step=0)
        room = client.get(f"/incidents/{incident.reference}/")
        dashboard = client.get("/")
    assert b'id="incident-paging"' in room.content and b"Ada Lovelace" in room.content and b"Acknowledge" in room.content
    assert b'id="on-call-now"' in dashboard.content
    board = dashboard.content.decode().split('id="on-call-now"')[1].split("</section>")[0]
    assert "Checkout" in board and "Ada Lovelace" in board
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/oncall/incidents/{incident.reference}/acknowledge/").status_code == 302
    assert Escalation.objects.get(incident=incident).state == "acknowledged"


def test_the_delivery_log_lists_deliveries_and_the_outbox(crew, client, tmp_path, django_capture_on_commit_callbacks) -> None:
    with override_settings(EMAIL_BACKEND="incidents.notify.outbox.OutboxBackend", EMAIL_FILE_PATH=tmp_path):
        with django_capture_on_commit_callbacks(execute=True):
            incident = declare(title="Checkout down", sev="SEV1")
        paging.escalation_run_step(escalation_id=Escalation.objects.get(incident=incident).pk, step=0)
        for pk in incident.notification_deliveries.values_list("pk", flat=True):
            assert notify.delivery_attempt(pk) == "delivered"
        client.force_login(crew["ada"])
        log = client.get("/oncall/deliveries/", {"incident": incident.reference})
    assert log.status_code == 200
    text = log.content.decode()
    assert "Delivered" in text and f"[SEV1] {incident.reference} Checkout down" in text and "to ada@example.com" in text
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_managers_find_on_call_and_subscribers_in_the_admin(crew, client) -> None:
    from incidents.notify.subscribers import subscriber_create

    subscriber_create(kind="email", address="reader@example.com")
    crew["lead"].is_staff = True
    crew["lead"].is_superuser = True
    crew["lead"].save()
    client.force_login(crew["lead"])
    for path in ("schedule", "escalationpolicy", "escalation", "notificationdelivery", "statussubscriber", "channel"):
        assert client.get(f"/admin/incidents/{path}/").status_code == 200, path
    assert b"reader@example.com" in client.get("/admin/incidents/statussubscriber/").content
