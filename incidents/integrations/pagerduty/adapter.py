"""PagerDuty as a source: two kinds, each with what the pipeline needs to know.

- Events (`pagerduty_events_v2`): Events API v2 at `/integrations/pagerduty/v2/enqueue`
  and v1 at PagerDuty's own path, with the same integration key.
- v3 webhooks (`pagerduty_webhook_v3`): a webhook subscription's signed deliveries.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.urls import URLPattern, path, reverse
from django.utils import timezone

from incidents.integrations.common import Signal
from incidents.integrations.pagerduty import events_v1, events_v2, views, webhooks_v3
from incidents.integrations.pipeline.adapter import Adapter, Parsing
from incidents.models import IntegrationKind


def _now() -> str:
    return timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")


class PagerDutyEventsAdapter(Adapter):
    kind = IntegrationKind.PAGERDUTY_EVENTS_V2

    def validate(self, payload: Any) -> list[str]:
        # One PagerDuty Events integration takes v1 and v2 events with the same key.
        return (events_v1 if events_v1.is_v1(payload) else events_v2).validate(payload)

    def parse(self, payload: Any, parsing: Parsing) -> list[Signal]:
        events = events_v1 if events_v1.is_v1(payload) else events_v2
        return events.parse(
            payload,
            received_at=parsing.received_at,
            assigned_key=parsing.assigned_key,
            group_by=list(parsing.group_by),
        )

    def sample_body(self) -> tuple[str, str]:
        body = {"routing_key": "0" * 32, "event_action": "trigger", "dedup_key": f"sample-{uuid.uuid4().hex[:12]}",
                "payload": {"summary": "Sample event sent from the integrations page", "source": "portal", "severity": "warning",
                            "timestamp": _now()}}  # fmt: skip
        return json.dumps(body), ""

    def urls(self) -> list[URLPattern]:
        return [path("pagerduty/v2/enqueue", views.enqueue, name="pagerduty-enqueue")]

    def site_urls(self) -> list[URLPattern]:
        # Senders speaking Events v1 (Alertmanager's pagerduty_configs among them) post to PagerDuty's path.
        return [
            path(
                "generic/2010-04-15/create_event.json",
                views.create_event_v1,
                name="pagerduty-v1-create-event",
            )
        ]

    def receiver_path(self, token: str) -> str:
        return reverse("integrations:pagerduty-enqueue")  # the token travels as the routing key


class PagerDutyWebhookV3Adapter(Adapter):
    kind = IntegrationKind.PAGERDUTY_WEBHOOK_V3
    refiring_unacknowledges = True
    needs_signing_secret = True

    def validate(self, payload: Any) -> list[str]:
        return webhooks_v3.validate(payload)

    def parse(self, payload: Any, parsing: Parsing) -> list[Signal]:
        return webhooks_v3.parse(payload, received_at=parsing.received_at)

    def sample_body(self) -> tuple[str, str]:
        ident = uuid.uuid4().hex[:12]
        body = {"event": {"id": f"sample-{ident}", "event_type": "incident.triggered", "resource_type": "incident",
                          "occurred_at": _now(), "agent": None, "client": None,
                          "data": {"id": f"SAMPLE{ident.upper()}", "type": "incident", "title": "Sample incident sent from the integrations page",
                                   "status": "triggered", "urgency": "low", "number": 0, "html_url": ""}}}  # fmt: skip
        return json.dumps(body), ""

    def urls(self) -> list[URLPattern]:
        return [path("pagerduty/v3/<str:token>/", views.webhook_v3, name="pagerduty-v3")]

    def receiver_path(self, token: str) -> str:
        return reverse("integrations:pagerduty-v3", args=[token])
