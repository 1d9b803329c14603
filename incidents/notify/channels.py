"""Message formats of each channel, exactly as their receivers expect them, and the send.

Slack: incoming webhook JSON (`text` + Block Kit `blocks`, mrkdwn escaped).
Teams: incoming webhook / Workflows JSON carrying an Adaptive Card.
Webhook: our JSON, signed: `X-Portal-Signature: sha256=HMAC(secret, "<timestamp>.<body>")`.
PagerDuty: Events API v2 (`trigger` with a payload, `acknowledge`/`resolve` with the same dedup_key).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.urls import reverse

from incidents.models import ChannelKind, Incident, Notification, NotificationDelivery
from incidents.notify import netguard

USER_AGENT = "IncidentPortal-Notify/1"


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    link: str
    ack_link: str | None
    incident: dict[str, Any] | None
    unsubscribe: str | None = None
    confirm: str | None = None


class PermanentFailure(Exception):
    """The receiver refused the message for good (a 4xx other than 408/429, a refused address)."""


class TemporaryFailure(Exception):
    pass


def incident_url(incident: Incident) -> str:
    return settings.PUBLIC_URL + reverse("incident-detail", args=[incident.reference])


PUBLIC_KINDS = (Notification.Kind.PUBLIC, Notification.Kind.SUBSCRIPTION)


def compose(delivery: NotificationDelivery) -> Message:
    notification: Notification = delivery.notification
    if notification.kind in PUBLIC_KINDS:
        from incidents.notify.subscribers import message_for

        public = message_for(delivery)
        return Message(notification.subject, notification.body, public["link"], None, public["incident"],
                       unsubscribe=public["unsubscribe"], confirm=public["confirm"])
    incident = notification.incident
    link = incident_url(incident) if incident else settings.PUBLIC_URL + "/"
    ack = None
    if incident is not None and delivery.user_id and notification.kind == Notification.Kind.PAGE:
        from incidents.oncall.acklink import ack_url

        ack = ack_url(incident.pk, delivery.user_id)
    info = None
    if incident is not None:
        info = {"reference": incident.reference, "title": incident.title, "status": incident.status,
                "severity": incident.severity.name, "url": link, "started_at": incident.started_at.isoformat()}
    return Message(notification.subject, notification.body, link, ack, info)


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(message: Message) -> dict[str, Any]:
    lines = [f"*<{message.link}|{slack_escape(message.subject)}>*"]
    if message.text:
        lines.append(slack_escape(message.text))
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]
    if message.ack_link:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"}, "url": message.ack_link, "style": "primary"},
        ]})
    return {"text": message.subject, "blocks": blocks}


def teams_payload(message: Message) -> dict[str, Any]:
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": message.subject, "weight": "Bolder", "size": "Medium", "wrap": True}]
    if message.text:
        body.append({"type": "TextBlock", "text": message.text, "wrap": True})
    actions = [{"type": "Action.OpenUrl", "title": "Open", "url": message.link}]
    if message.ack_link:
        actions.append({"type": "Action.OpenUrl", "title": "Acknowledge", "url": message.ack_link})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
            "body": body, "actions": actions}
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card},
    ]}


def webhook_payload(message: Message, delivery: NotificationDelivery) -> dict[str, Any]:
    n = delivery.notification
    if n.kind in PUBLIC_KINDS:
        return {"id": delivery.idempotency_key, "type": n.kind, "event": n.event, "subject": message.subject, "text": message.text,
                "incident": message.incident, "url": message.link, "unsubscribe_url": message.unsubscribe,
                "created_at": n.created_at.isoformat()}
    return {"id": delivery.idempotency_key, "type": n.kind, "event": n.event, "subject": message.subject, "text": message.text,
            "incident": message.incident, "acknowledge_url": message.ack_link, "created_at": n.created_at.isoformat()}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


PD_SEVERITY = {1: "critical", 2: "error", 3: "warning"}


def pagerduty_dedup_key(incident_id: int) -> str:
    return f"incident-portal-INC-{incident_id}"


def pagerduty_payload(message: Message, delivery: NotificationDelivery) -> dict[str, Any]:
    n = delivery.notification
    incident = n.incident
    assert incident is not None
    action = n.event if n.event in ("acknowledge", "resolve") else "trigger"
    body: dict[str, Any] = {"routing_key": delivery.routing_key, "event_action": action, "dedup_key": pagerduty_dedup_key(incident.pk)}
    if action == "trigger":
        body["payload"] = {
            "summary": f"{incident.reference} {incident.title}"[:1024],
            "source": "incident-portal",
            "severity": PD_SEVERITY.get(incident.severity.rank, "info"),
            "timestamp": incident.started_at.isoformat(),
            "custom_details": n.details or {"severity": incident.severity.name, "status": incident.status},
        }
        body["client"] = "Incident Portal"
        body["client_url"] = message.link
        body["links"] = [{"href": message.link, "text": f"{incident.reference} war room"}]
    return body


def _post_json(delivery: NotificationDelivery, payload: dict[str, Any], extra: dict[str, str] | None = None) -> int:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "Idempotency-Key": delivery.idempotency_key}
    if delivery.kind == ChannelKind.WEBHOOK and delivery.secret:
        ts = str(int(time.time()))
        headers["X-Portal-Timestamp"] = ts
        headers["X-Portal-Signature"] = sign(delivery.secret, ts, body)
    headers.update(extra or {})
    try:
        answer = netguard.post(delivery.target, body, headers, timeout=getattr(settings, "NOTIFY_HTTP_TIMEOUT", 10.0))
    except netguard.RefusedAddress as exc:
        raise PermanentFailure(str(exc)) from exc
    except netguard.TransportError as exc:
        raise TemporaryFailure(str(exc)) from exc
    if 200 <= answer.status < 300:
        return answer.status
    detail = f"HTTP {answer.status}: {answer.body[:300]}"
    if answer.status in (408, 429) or answer.status >= 500:
        raise TemporaryFailure(detail)
    raise PermanentFailure(detail)


def send_email(delivery: NotificationDelivery, message: Message, connection: Any = None) -> int:
    lines = [message.text, "", f"Open: {message.link}"] if message.text else [f"Open: {message.link}"]
    if message.ack_link:
        lines.append(f"Acknowledge: {message.ack_link}")
    if message.confirm:
        lines = [message.text, "", f"Confirm: {message.confirm}"]
    headers = {"Message-ID": f"<{hashlib.sha256(delivery.idempotency_key.encode()).hexdigest()[:32]}@incident-portal>",
               "X-Portal-Idempotency-Key": delivery.idempotency_key}
    if message.unsubscribe:
        lines += ["", f"Unsubscribe: {message.unsubscribe}"]
        # RFC 8058 one-click unsubscribe: mail clients POST to the link
        headers["List-Unsubscribe"] = f"<{message.unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = EmailMessage(subject=message.subject, body="\n".join(lines), to=[delivery.target], headers=headers)
    try:
        connection = connection or get_connection(fail_silently=False, timeout=getattr(settings, "NOTIFY_HTTP_TIMEOUT", 10.0))
        if not connection.send_messages([email]):
            raise TemporaryFailure("The mail backend sent nothing.")
    except OSError as exc:  # smtplib errors are OSErrors
        import smtplib

        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            raise PermanentFailure(f"Recipient refused: {exc}") from exc
        raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
    return 250


def send(delivery: NotificationDelivery, *, mail_connection: Any = None) -> int:
    """Send one delivery; returns the receiver's status code or raises a Failure."""
    message = compose(delivery)
    if delivery.kind == ChannelKind.EMAIL:
        return send_email(delivery, message, mail_connection)
    if delivery.kind == ChannelKind.SLACK:
        return _post_json(delivery, slack_payload(message))
    if delivery.kind == ChannelKind.TEAMS:
        return _post_json(delivery, teams_payload(message))
    if delivery.kind == ChannelKind.WEBHOOK:
        return _post_json(delivery, webhook_payload(message, delivery))
    if delivery.kind == ChannelKind.PAGERDUTY:
        return _post_json(delivery, pagerduty_payload(message, delivery))
    raise PermanentFailure(f"Unknown channel kind {delivery.kind!r}")
