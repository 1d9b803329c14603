"""Signed acknowledgement links carried in notifications: whoever holds the link may
acknowledge that incident as the person it was sent to, for a limited time."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "incidents.oncall.ack"


def ack_token(incident_id: int, user_id: int) -> str:
    return signing.dumps({"i": incident_id, "u": user_id}, salt=SALT, compress=True)


def ack_url(incident_id: int, user_id: int) -> str:
    return settings.PUBLIC_URL + reverse("oncall-ack-link", args=[ack_token(incident_id, user_id)])


def read_ack_token(token: str) -> tuple[int, int] | None:
    max_age = getattr(settings, "ONCALL_ACK_LINK_MAX_AGE", 24 * 3600)
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
        return int(data["i"]), int(data["u"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
