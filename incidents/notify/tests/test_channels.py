from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import override_settings

from incidents.models import (
    Channel,
    ChannelKind,
    ContactMethod,
    DeliveryState,
    Escalation,
    EscalationState,
    NotificationDelivery,
    NotificationRule,
    Severity,
)
from incidents.notify import services
from incidents.notify.tests.receivers import http_receiver, smtp_server
from incidents.oncall import paging
from incidents.oncall.acklink import ack_token
from incidents.services import incident_acknowledge, incident_change_status
from portal.tests.factories import declare

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def page(crew: Any, capture: Any, **kwargs: Any) -> Any:
    with capture(execute=True):
        incident = declare(title="Checkout down", sev="SEV1", **kwargs)
    escalation = Escalation.objects.get(incident=incident)
    paging.escalation_run_step(escalation_id=escalation.pk, step=0)
    return incident


def send_all() -> list[str | None]:
    return [services.delivery_attempt(pk) for pk in NotificationDelivery.objects.order_by("pk").values_list("pk", flat=True)]


def test_a_page_reaches_a_real_smtp_server_once_with_a_working_acknowledge_link(crew, clock, client, django_capture_on_commit_callbacks) -> None:
    incident = page(crew, django_capture_on_commit_callbacks)
    with smtp_server() as (port, box), override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=port,
        EMAIL_USE_TLS=False, EMAIL_USE_SSL=False, DEFAULT_FROM_EMAIL="portal@example.org", PUBLIC_URL="http://portal.test",
    ):
        assert send_all() == ["delivered"]
        assert send_all() == [None]  # a redelivered task: nothing sent twice
    assert len(box.messages) == 1
    sender, recipients, msg = box.messages[0]
    assert (sender, recipients) == ("portal@example.org", ["ada@example.com"])
    assert msg["Subject"] == f"[SEV1] {incident.reference} Checkout down"
    delivery = NotificationDelivery.objects.get()
    assert msg["X-Portal-Idempotency-Key"] == delivery.idempotency_key
    link = f"http://portal.test/oncall/ack/{ack_token(incident.pk, crew['ada'].pk)}/"
    assert msg.get_content().replace("\r\n", "\n") == (
        f"You are paged for {incident.reference} (SEV1, Investigating).\n\n"
        f"Open: http://portal.test/incidents/{incident.reference}/\nAcknowledge: {link}\n"
    )
    path = link.removeprefix("http://portal.test")
    assert client.get(path).status_code == 200  # shows a button, changes nothing
    assert Escalation.objects.get(incident=incident).state == EscalationState.ACTIVE
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(path)
    assert answer.status_code == 200 and b"Acknowledged" in answer.content
    incident.refresh_from_db()
    assert incident.acknowledged_at == T0
    assert Escalation.objects.get(incident=incident).state == EscalationState.ACKNOWLEDGED
    assert client.post(path[:-3] + "xx/").status_code == 400  # a tampered token


def test_slack_teams_and_signed_webhook_bodies_and_a_delayed_rule(crew, clock, django_capture_on_commit_callbacks) -> None:
    ada = crew["ada"]
    with http_receiver() as rx, override_settings(PUBLIC_URL="http://portal.test"):
        slack = ContactMethod.objects.create(user=ada, kind=ChannelKind.SLACK, target=rx.url + "/slack")
        teams = ContactMethod.objects.create(user=ada, kind=ChannelKind.TEAMS, target=rx.url + "/teams")
        hook = ContactMethod.objects.create(user=ada, kind=ChannelKind.WEBHOOK, target=rx.url + "/hook", secret="s3cret")
        late = ContactMethod.objects.create(user=ada, kind=ChannelKind.SLACK, target=rx.url + "/late")
        for method in (slack, teams, hook):
            NotificationRule.objects.create(user=ada, contact_method=method, delay_minutes=0)
        NotificationRule.objects.create(user=ada, contact_method=late, delay_minutes=2)
        incident = page(crew, django_capture_on_commit_callbacks)
        assert send_all() == ["delivered", "delivered", "delivered", None]  # the 2-minute rule is not due
        ref = incident.reference
        link = f"http://portal.test/incidents/{ref}/"
        ack = f"http://portal.test/oncall/ack/{ack_token(incident.pk, ada.pk)}/"
        by_path = {r.path: r for r in rx.requests}
        assert by_path["/slack"].json() == {
            "text": f"[SEV1] {ref} Checkout down",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*<{link}|[SEV1] {ref} Checkout down>*\nYou are paged for {ref} (SEV1, Investigating)."}},
                {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"}, "url": ack, "style": "primary"}]},
            ],
        }
        assert by_path["/teams"].json() == {"type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": f"[SEV1] {ref} Checkout down", "weight": "Bolder", "size": "Medium", "wrap": True},
                    {"type": "TextBlock", "text": f"You are paged for {ref} (SEV1, Investigating).", "wrap": True},
                ],
                "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": link}, {"type": "Action.OpenUrl", "title": "Acknowledge", "url": ack}],
            },
        }]}
        signed = by_path["/hook"]
        ts = signed.headers["x-portal-timestamp"]
        assert ts == str(int(T0.timestamp()))
        assert signed.headers["x-portal-signature"] == "sha256=" + hmac.new(b"s3cret", ts.encode() + b"." + signed.body, hashlib.sha256).hexdigest()
        body = signed.json()
        assert (body["type"], body["event"], body["incident"]["reference"], body["acknowledge_url"]) == ("page", "page", ref, ack)
        assert signed.headers["idempotency-key"] == body["id"] == NotificationDelivery.objects.get(target=rx.url + "/hook").idempotency_key
        assert signed.headers["content-type"] == "application/json"

        clock.shift(timedelta(minutes=2))
        with django_capture_on_commit_callbacks(execute=True):
            incident_acknowledge(incident=incident, by=ada)
        assert send_all()[-1] == "cancelled"  # acknowledged before the 2-minute rule was due
        assert "/late" not in [r.path for r in rx.requests]


def test_pagerduty_gets_trigger_acknowledge_and_resolve_with_one_dedup_key(crew, clock, django_capture_on_commit_callbacks) -> None:
    with http_receiver() as rx, override_settings(PUBLIC_URL="http://portal.test"):
        rx.answers = [(202, '{"status":"success","message":"Event processed","dedup_key":"x"}')] * 3
        pd = Channel.objects.create(name="PD phones", kind=ChannelKind.PAGERDUTY, url=rx.url + "/v2/enqueue", routing_key="R0UT1NGKEY0000000000000000000000")
        pd.severities.add(Severity.objects.get(name="SEV1"))
        with django_capture_on_commit_callbacks(execute=True):
            incident = declare(title="Checkout down", sev="SEV1")
            quiet = declare(title="Minor", sev="SEV3")
        with django_capture_on_commit_callbacks(execute=True):
            incident_acknowledge(incident=incident, by=crew["ada"])
        with django_capture_on_commit_callbacks(execute=True):
            incident_change_status(incident=incident, status="resolved", by=crew["ada"])
            incident_change_status(incident=quiet, status="resolved", by=crew["ada"])
        pd_rows = NotificationDelivery.objects.filter(channel=pd).order_by("pk")
        assert [services.delivery_attempt(d.pk) for d in pd_rows] == ["delivered"] * 3
        dedup = f"incident-portal-{incident.reference}"
        link = f"http://portal.test/incidents/{incident.reference}/"
        assert [r.json() for r in rx.requests] == [
            {"routing_key": "R0UT1NGKEY0000000000000000000000", "event_action": "trigger", "dedup_key": dedup,
             "payload": {"summary": f"{incident.reference} Checkout down", "source": "incident-portal", "severity": "critical",
                         "timestamp": T0.isoformat(), "custom_details": {"severity": "SEV1", "status": "investigating"}},
             "client": "Incident Portal", "client_url": link, "links": [{"href": link, "text": f"{incident.reference} war room"}]},
            {"routing_key": "R0UT1NGKEY0000000000000000000000", "event_action": "acknowledge", "dedup_key": dedup},
            {"routing_key": "R0UT1NGKEY0000000000000000000000", "event_action": "resolve", "dedup_key": dedup},
        ]
        assert {r.path for r in rx.requests} == {"/v2/enqueue"}
        assert list(pd_rows.values_list("response_code", flat=True)) == [202, 202, 202]


def test_a_failing_endpoint_is_retried_with_capped_backoff_and_the_same_key_and_a_refusal_is_final(crew, clock) -> None:
    from incidents.models import Notification

    with http_receiver() as rx:
        rx.answers = [(503, "busy"), (500, "oops"), (200, "ok"), (400, "invalid_payload")]
        n = services.notification_create(kind=Notification.Kind.REMINDER, subject="Hello")
        flaky = NotificationDelivery.objects.create(notification=n, kind=ChannelKind.SLACK, target=rx.url + "/a", idempotency_key="k1")
        assert services.delivery_attempt(flaky.pk) == "pending"
        flaky.refresh_from_db()
        assert (flaky.attempts, flaky.next_attempt_at, flaky.last_error) == (1, T0 + timedelta(seconds=30), "HTTP 503: busy")
        assert services.delivery_attempt(flaky.pk) is None  # not due yet
        clock.shift(timedelta(seconds=30))
        assert services.delivery_attempt(flaky.pk) == "pending"
        flaky.refresh_from_db()
        assert flaky.next_attempt_at == T0 + timedelta(seconds=90)  # 30 s, then 60 s
        clock.shift(timedelta(seconds=60))
        assert services.delivery_attempt(flaky.pk) == "delivered"
        assert [r.headers["idempotency-key"] for r in rx.requests] == ["k1", "k1", "k1"]
        bad = NotificationDelivery.objects.create(notification=n, kind=ChannelKind.SLACK, target=rx.url + "/b", idempotency_key="k2")
        assert services.delivery_attempt(bad.pk) == "failed"
        bad.refresh_from_db()
        assert (bad.state, bad.last_error) == (DeliveryState.FAILED, "HTTP 400: invalid_payload")
    assert services.backoff(20) == timedelta(seconds=900)


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/", "http://[::ffff:169.254.169.254]/",
])
def test_cloud_metadata_addresses_are_refused(crew, url: str) -> None:
    from incidents.models import Notification

    n = services.notification_create(kind=Notification.Kind.REMINDER, subject="Hello")
    d = NotificationDelivery.objects.create(notification=n, kind=ChannelKind.WEBHOOK, target=url, idempotency_key="m")
    assert services.delivery_attempt(d.pk) == "failed"
    d.refresh_from_db()
    assert "deny list" in d.last_error


def test_the_deny_list_is_checked_on_the_resolved_address_at_connect_time(crew) -> None:
    from incidents.models import Notification

    with http_receiver() as rx, override_settings(NOTIFY_DENY_NETWORKS=["127.0.0.0/8", "::1/128"]):
        n = services.notification_create(kind=Notification.Kind.REMINDER, subject="Hello")
        url = rx.url.replace("127.0.0.1", "localhost")
        d = NotificationDelivery.objects.create(notification=n, kind=ChannelKind.SLACK, target=url, idempotency_key="d")
        assert services.delivery_attempt(d.pk) == "failed"
        assert rx.requests == []


def test_a_delivery_whose_worker_died_mid_send_is_sent_again_by_the_sweeper(crew, clock, monkeypatch) -> None:
    from incidents.models import Notification
    from incidents.notify import tasks

    sent: list[int] = []
    monkeypatch.setattr(tasks.deliver, "apply_async", lambda args, countdown=None: sent.append(args[0]))
    n = services.notification_create(kind=Notification.Kind.REMINDER, subject="Hello")
    d = NotificationDelivery.objects.create(notification=n, kind=ChannelKind.SLACK, target="http://x.test/", idempotency_key="s",
                                            state=DeliveryState.SENDING, lease_until=T0 + timedelta(minutes=2))
    assert services.deliveries_sweep() == 0  # the lease still runs: someone is sending it
    clock.shift(timedelta(minutes=2, seconds=1))
    assert services.deliveries_sweep() == 1
    d.refresh_from_db()
    assert d.state == DeliveryState.PENDING and sent == [d.pk]
