"""Generic JSON as a source: everything the pipeline needs to know about it.

The health probes use it too, as an internal source (`health/effects.py`)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.urls import URLPattern, path, reverse
from django.utils import timezone

from incidents.integrations.common import Signal
from incidents.integrations.generic import parser
from incidents.integrations.generic.views import generic_webhook
from incidents.integrations.pipeline.adapter import Adapter, Parsing
from incidents.models import IntegrationKind


class GenericJsonAdapter(Adapter):
    kind = IntegrationKind.GENERIC_JSON
    keeps_unknown_resolutions = True

    def validate(self, payload: Any) -> list[str]:
        return parser.validate(payload)

    def parse(self, payload: Any, parsing: Parsing) -> list[Signal]:
        return parser.parse(payload, received_at=parsing.received_at, group_by=list(parsing.group_by))

    def sample_body(self) -> tuple[str, str]:
        now = timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")
        body = {"fingerprint": f"sample-{uuid.uuid4().hex[:12]}", "status": "firing",
                "title": "Sample alert sent from the integrations page", "severity": "warning", "occurred_at": now}  # fmt: skip
        return json.dumps(body), ""

    def urls(self) -> list[URLPattern]:
        return [
            path("generic/", generic_webhook, name="generic-auth"),
            path("generic/<str:token>/", generic_webhook, name="generic"),
        ]

    def receiver_path(self, token: str) -> str:
        return reverse("integrations:generic", args=[token])
