"""The embedded default email backend: each message is one .eml file in DATA_DIR/outbox,
which the delivery log page lists (no SMTP server needed on a laptop)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


def outbox_dir() -> Path:
    return Path(getattr(settings, "EMAIL_FILE_PATH", Path(settings.DATA_DIR) / "outbox"))


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        directory = outbox_dir()
        directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            name = f"{timezone.now():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
            tmp = directory / f".{name}.tmp"
            tmp.write_bytes(message.message().as_bytes())
            tmp.replace(directory / name)  # readers never see half a message
            sent += 1
        return sent


def recent(limit: int = 50) -> list[dict[str, Any]]:
    """The newest messages in the outbox, for the UI."""
    from email import message_from_bytes, policy

    directory = outbox_dir()
    if not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.glob("*.eml"), reverse=True)[:limit]:
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        body = msg.get_body(preferencelist=("plain",))
        out.append({"name": path.name, "to": msg["To"], "subject": msg["Subject"], "date": msg["Date"],
                    "body": body.get_content() if body else ""})
    return out
