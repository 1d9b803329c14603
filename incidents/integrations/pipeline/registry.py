"""Every integration kind the portal receives, one adapter each.

Adding a source: a new directory `incidents/integrations/<kind>/` with its parser,
views, fixtures, tests and `adapter.py`, its kind in `IntegrationKind`, and one
line below (see docs/integrations.md, "Adding a source").
"""

from __future__ import annotations

from django.conf import settings
from django.urls import URLPattern

from incidents.integrations.alertmanager.adapter import AlertmanagerAdapter
from incidents.integrations.generic.adapter import GenericJsonAdapter
from incidents.integrations.pagerduty.adapter import PagerDutyEventsAdapter, PagerDutyWebhookV3Adapter
from incidents.integrations.pipeline.adapter import Adapter
from incidents.models import Integration

ADAPTERS: dict[str, Adapter] = {
    adapter.kind: adapter
    for adapter in (
        AlertmanagerAdapter(),
        PagerDutyEventsAdapter(),
        PagerDutyWebhookV3Adapter(),
        GenericJsonAdapter(),
    )
}


def adapter_for(kind: str) -> Adapter:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise LookupError(f"No adapter for the integration kind {kind!r}.") from None


def urlpatterns() -> list[URLPattern]:
    return [pattern for adapter in ADAPTERS.values() for pattern in adapter.urls()]


def site_urlpatterns() -> list[URLPattern]:
    return [pattern for adapter in ADAPTERS.values() for pattern in adapter.site_urls()]


PLACEHOLDER = "SECRET-PLACEHOLDER"


def receiver_url(integration: Integration, token: str | None) -> str:
    """The URL senders post to, with the secret when it is shown, else a readable
    `<secret>` (not reversed with it: reverse() would percent-encode the brackets)."""
    url = settings.PUBLIC_URL + adapter_for(integration.kind).receiver_path(token or PLACEHOLDER)
    return url if token else url.replace(PLACEHOLDER, "<secret>")
