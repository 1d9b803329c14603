"""What the pipeline asks of an integration kind: one `Adapter` per kind, in that
kind's directory (`incidents/integrations/<kind>/adapter.py`), listed once in
`registry.py`.

Everything kind-specific lives behind these methods; the stages (receive, decide,
apply, attach, settle) only ever ask the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.urls import URLPattern

from incidents.integrations.common import Signal


@dataclass(frozen=True)
class Parsing:
    """What a parser may need beside the payload, all of it from the stored delivery."""

    received_at: datetime
    assigned_key: str = ""  # the key the portal answered with when the sender gave none
    group_by: tuple[str, ...] = ()  # the integration's label names to group by, if set


class Adapter:
    """One integration kind. Subclasses set the attributes and implement the methods."""

    kind: str = ""  # an IntegrationKind value
    # Where the severity mapping reads the alert's severity unless the mapping names a field.
    default_severity_field: str = "severity"
    # Field names the routing editor suggests beside the labels seen on recent alerts.
    suggested_fields: tuple[str, ...] = ()
    # A resolution of an alert never seen is kept (so its late firing is stale) rather
    # than dropped (PagerDuty's rule: acknowledge or resolve of an unknown key is dropped).
    keeps_unknown_resolutions: bool = False
    # A firing after an acknowledgement un-acknowledges (PagerDuty v3 "unacknowledged").
    refiring_unacknowledges: bool = False
    # Creating the integration requires a signing secret (PagerDuty v3 subscriptions).
    needs_signing_secret: bool = False

    def validate(self, payload: Any) -> list[str]:
        """Raise PayloadInvalid when the payload will never be valid (the sender gets a
        4xx); return the errors of the alerts that will be skipped in a valid one."""
        raise NotImplementedError

    def parse(self, payload: Any, parsing: Parsing) -> list[Signal]:
        """The signals of a validated payload: one per alert and transition."""
        raise NotImplementedError

    def sample_body(self) -> tuple[str, str]:
        """A realistic payload as the sender would post it, and the key the portal would assign."""
        raise NotImplementedError

    def urls(self) -> list[URLPattern]:
        """The receivers' URL patterns, mounted under `/integrations/`."""
        raise NotImplementedError

    def site_urls(self) -> list[URLPattern]:
        """Receivers that senders expect at a fixed path from the site's root."""
        return []

    def receiver_path(self, token: str) -> str:
        """The path senders post to, for an integration with this token."""
        raise NotImplementedError
