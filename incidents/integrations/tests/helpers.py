"""Shared helpers for the alert ingestion tests: fixtures as senders produce them,
posting through the real receivers, and processing as the worker does."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.test import Client

from incidents.integrations import services
from incidents.integrations.pipeline import process, receive
from incidents.models import Delivery, DeliveryStatus, Incident, Integration, Severity, TimelineEvent

ROOT = Path(__file__).resolve().parent.parent


def fixture(kind: str, name: str) -> str:
    return (ROOT / kind / "fixtures" / name).read_text()


def fixture_json(kind: str, name: str) -> Any:
    return json.loads(fixture(kind, name))


def ensure_severities() -> None:
    """Transactional tests elsewhere flush the migration's severity rows; put them back."""
    for rank in range(1, 5):
        Severity.objects.get_or_create(name=f"SEV{rank}", defaults={"rank": rank})


def make(kind: str, *, name: str = "", **options: Any) -> tuple[Integration, str]:
    ensure_severities()
    options.setdefault("reopen_window", timedelta(0))
    return services.integration_create(kind=kind, name=name or kind, by=None, **options)


def post_json(client: Client, url: str, body: str | dict[str, Any] | list[Any], **headers: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json", **headers)


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def process_pending() -> list[str]:
    """Run every pending delivery through the task's function, oldest first."""
    ids = list(Delivery.objects.filter(status=DeliveryStatus.PENDING).order_by("id").values_list("pk", flat=True))
    return [process.delivery_process(delivery_id=pk) for pk in ids]


def store(integration: Integration, body: str | dict[str, Any], **kwargs: Any) -> Delivery:
    text = body if isinstance(body, str) else json.dumps(body)
    return receive.delivery_store(integration=integration, body=text, headers={}, **kwargs)


def alert_events(incident: Incident) -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(incident=incident, kind="alert").order_by("id"))
