"""Alertmanager as a source: everything the pipeline needs to know about it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.urls import URLPattern, path, reverse
from django.utils import timezone

from incidents.integrations.alertmanager import parser
from incidents.integrations.alertmanager.views import alertmanager_webhook
from incidents.integrations.common import Signal
from incidents.integrations.pipeline.adapter import Adapter, Parsing
from incidents.models import IntegrationKind


class AlertmanagerAdapter(Adapter):
    kind = IntegrationKind.ALERTMANAGER
    default_severity_field = "labels.severity"
    suggested_fields = ("labels.alertname", "labels.severity", "labels.service", "labels.team")
    keeps_unknown_resolutions = True  # a group may arrive resolved before its firing

    def validate(self, payload: Any) -> list[str]:
        return parser.validate(payload)

    def parse(self, payload: Any, parsing: Parsing) -> list[Signal]:
        return parser.parse(payload, group_by=list(parsing.group_by))

    def sample_body(self) -> tuple[str, str]:
        now = timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")
        ident = uuid.uuid4().hex[:12]
        body = {
            "receiver": "portal", "status": "firing", "version": "4", "truncatedAlerts": 0,
            "groupKey": f'{{}}:{{alertname="PortalSample",sample="{ident}"}}',
            "groupLabels": {"alertname": "PortalSample"}, "commonLabels": {"alertname": "PortalSample", "severity": "warning"},
            "commonAnnotations": {"summary": "Sample alert sent from the integrations page"},
            "externalURL": "http://alertmanager.invalid",
            "alerts": [{"status": "firing", "labels": {"alertname": "PortalSample", "severity": "warning", "sample": ident},
                        "annotations": {"summary": "Sample alert sent from the integrations page"},
                        "startsAt": now, "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": ident}],
        }  # fmt: skip
        return json.dumps(body), ""

    def urls(self) -> list[URLPattern]:
        return [
            path("alertmanager/", alertmanager_webhook, name="alertmanager-auth"),
            path("alertmanager/<str:token>/", alertmanager_webhook, name="alertmanager"),
        ]

    def receiver_path(self, token: str) -> str:
        return reverse("integrations:alertmanager", args=[token])
