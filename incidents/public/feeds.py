"""Atom and RSS feeds of public incidents and maintenance, rendered into the snapshot.

Django's feed generators write the XML; one entry per incident (its public
updates as the content, as Statuspage's history feeds do) and per window.
Text is stored clean, and cleaned again here: XML 1.0 cannot carry most control
characters and the generator raises on them, so one row stored before the rule
(or by a path that missed it) must not take the feeds down.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed, SyndicationFeed
from django.utils.html import escape

from incidents.models import IncidentStatus, MaintenanceStatus
from incidents.public.data import PublicData, incident_public_updated_at, public_status, updates_of
from portal.text import clean_text

FEED_ITEMS = 50


def _new(cls: type[SyndicationFeed], self_url: str) -> SyndicationFeed:
    status_url = settings.PUBLIC_URL + reverse("public:status")
    return cls(
        title=clean_text(f"{settings.SITE_NAME} status"),
        link=status_url,
        description=clean_text(f"Incidents and maintenance of {settings.SITE_NAME}"),
        language="en",
        feed_url=settings.PUBLIC_URL + self_url,
        feed_guid=status_url,
    )


def _feed(cls: type[SyndicationFeed], data: PublicData, self_url: str) -> str:
    status_url = settings.PUBLIC_URL + reverse("public:status")
    feed = _new(cls, self_url)
    for incident in data.history[:FEED_ITEMS]:
        url = settings.PUBLIC_URL + reverse("public:incident", args=[incident.pk])
        parts = [
            f"<p><small>{update.display_at:%b %d, %H:%M %Z}</small><br><strong>{escape(IncidentStatus(update.status).label)}</strong>"
            f" - {update.body_html}</p>"
            for update in updates_of(incident)
        ]
        if not parts:
            parts = [f"<p><strong>{escape(IncidentStatus(public_status(incident)).label)}</strong></p>"]
        feed.add_item(
            title=clean_text(incident.title),
            link=url,
            description=clean_text("".join(parts), multiline=True),
            unique_id=url,
            unique_id_is_permalink=True,
            pubdate=incident.started_at,
            updateddate=incident_public_updated_at(incident),
        )
    for window in data.maintenance_all[:FEED_ITEMS]:
        url = f"{status_url}#maintenance-{window.pk}"
        label = MaintenanceStatus(window.status).label
        feed.add_item(
            title=clean_text(f"Maintenance: {window.title}"),
            link=url,
            description=clean_text(
                f"<p><strong>{escape(label)}</strong> - scheduled {window.scheduled_start:%b %d, %H:%M} to"
                f" {window.scheduled_end:%b %d, %H:%M %Z}</p><p>{escape(window.description)}</p>",
                multiline=True,
            ),
            unique_id=url,
            unique_id_is_permalink=False,
            pubdate=window.created_at,
            updateddate=window.updated_at,
        )
    return feed.writeString("utf-8")


def atom(data: PublicData) -> str:
    return _feed(Atom1Feed, data, reverse("public:feed-atom"))


def rss(data: PublicData) -> str:
    return _feed(Rss201rev2Feed, data, reverse("public:feed-rss"))


def empty_atom() -> str:
    """A valid feed with no entries, for when the real one cannot be built."""
    return _new(Atom1Feed, reverse("public:feed-atom")).writeString("utf-8")


def empty_rss() -> str:
    return _new(Rss201rev2Feed, reverse("public:feed-rss")).writeString("utf-8")
