"""The snapshot: every public page, feed, badge and JSON document as ready bytes.

Built by a worker from the database (`build`), after every public change and on
a schedule; served from memory by every web process. A snapshot is immutable and
carries a version (microseconds since the epoch when its build started, never
lower than the previous one) that the live page uses to catch up.
"""

from __future__ import annotations

import hashlib
import json
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from incidents.models import Impact, IncidentStatus, MaintenanceStatus
from incidents.public import badges, feeds, statuspage
from incidents.public.data import PublicData, load_public_data

# Replaced by the version after the content hash is taken, so that a rebuild with
# no public change hashes the same and is not published again.
VERSION_PLACEHOLDER = "0SNAPSHOTVERSION0"
FORMAT = 1

HTML = "text/html; charset=utf-8"
JSON = "application/json"
ATOM = "application/atom+xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
SVG = "image/svg+xml"


@dataclass(frozen=True)
class Artifact:
    body: bytes
    content_type: str
    etag: str

    @classmethod
    def of(cls, text: str, content_type: str) -> Artifact:
        body = text.encode()
        return cls(body, content_type, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')


@dataclass(frozen=True)
class Snapshot:
    version: int
    content_hash: str
    artifacts: dict[str, Artifact]  # by URL path
    live: dict[str, Any]  # the websocket message for open status pages
    live_text: str = field(default="", compare=False)

    def dumps(self) -> bytes:
        doc = {
            "format": FORMAT,
            "version": self.version,
            "content_hash": self.content_hash,
            "live": self.live,
            "artifacts": {path: [a.content_type, a.body.decode()] for path, a in self.artifacts.items()},
        }
        return zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 6)

    @classmethod
    def loads(cls, blob: bytes) -> Snapshot:
        doc = json.loads(zlib.decompress(blob))
        if doc.get("format") != FORMAT:
            raise ValueError(f"unknown snapshot format {doc.get('format')!r}")
        artifacts = {path: Artifact.of(body, content_type) for path, (content_type, body) in doc["artifacts"].items()}
        return cls.create(doc["version"], doc["content_hash"], artifacts, doc["live"])

    @classmethod
    def create(cls, version: int, content_hash: str, artifacts: dict[str, Artifact], live: dict[str, Any]) -> Snapshot:
        return cls(version, content_hash, artifacts, live, json.dumps(live, separators=(",", ":")))


def new_version(previous: int = 0) -> int:
    return max(time.time_ns() // 1000, previous + 1)


def _live(data: PublicData, context: dict[str, Any]) -> dict[str, Any]:
    """What an open status page needs to redraw its live parts: small, and public
    by construction (rendered from PublicData only)."""
    return {
        "type": "snapshot",
        "version": VERSION_PLACEHOLDER,
        "overall": {"indicator": data.indicator, "description": data.description},
        "components": {
            statuspage.component_id(c.service): {"status": c.status, "label": c.status_label} for c in data.components
        },
        "groups": {statuspage.group_id(g.group): {"status": g.status, "label": Impact(g.status).label} for g in data.groups if g.group},
        "html": {
            "incidents": render_to_string("public/_incidents.html", context),
            "maintenance": render_to_string("public/_maintenance.html", context),
        },
    }


def _context(data: PublicData) -> dict[str, Any]:
    return {
        "data": data,
        "snapshot_version": VERSION_PLACEHOLDER,
        "incident_status": IncidentStatus,
        "maintenance_status": MaintenanceStatus,
        "past_days": _past_days(data),
        "site_name": settings.SITE_NAME,
    }


def live_message(data: PublicData) -> tuple[str, dict[str, Any]]:
    """The live message alone, cheap to render (the first thing a rebuild sends),
    and its content hash."""
    live = _live(data, _context(data))
    return hashlib.blake2b(json.dumps(live, sort_keys=True).encode(), digest_size=16).hexdigest(), live


def render(data: PublicData) -> tuple[dict[str, tuple[str, str]], dict[str, Any]]:
    """Every artifact as (text, content type) by path, and the live message; the
    version is still the placeholder."""
    context = _context(data)
    out: dict[str, tuple[str, str]] = {
        reverse("public:status"): (render_to_string("public/status.html", context), HTML),
        reverse("public:history"): (render_to_string("public/history.html", context), HTML),
        reverse("public:feed-atom"): (feeds.atom(data), ATOM),
        reverse("public:feed-rss"): (feeds.rss(data), RSS),
        reverse("public:page-badge"): (badges.page_badge("status", data.indicator, data.description), SVG),
    }
    for incident in data.history:
        out[reverse("public:incident", args=[incident.pk])] = (
            render_to_string("public/incident.html", {**context, "incident": incident}),
            HTML,
        )
    for component in data.components:
        out[reverse("public:badge", args=[component.service.slug])] = (
            badges.component_badge(component.service.name, component.status),
            SVG,
        )
    for name, doc in statuspage.documents(data).items():
        out[reverse(f"public-api:{name}")] = (json.dumps(doc, separators=(",", ":")), JSON)
    return out, _live(data, context)


def _past_days(data: PublicData) -> list[tuple[Any, list[Any]]]:
    """The last 14 days, newest first, with the incidents that started on each."""
    from datetime import timedelta

    today = data.now.date()
    days = [today - timedelta(days=n) for n in range(14)]
    by_day: dict[Any, list[Any]] = {d: [] for d in days}
    for incident in data.history:
        day = incident.started_at.date()
        if day in by_day:
            by_day[day].append(incident)
    return [(d, by_day[d]) for d in days]


def build(*, previous_version: int = 0, data: PublicData | None = None) -> tuple[str, Any]:
    """Read the database and render. Returns (content hash, a function that stamps
    a version and gives the Snapshot), so the caller can skip unchanged content
    before spending a version on it."""
    texts, live = render(data or load_public_data())
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(texts):
        digest.update(path.encode() + b"\0" + texts[path][0].encode() + b"\0")
    digest.update(json.dumps(live, sort_keys=True).encode())
    content_hash = digest.hexdigest()

    def stamp(version: int) -> Snapshot:
        v = str(version)
        artifacts = {path: Artifact.of(text.replace(VERSION_PLACEHOLDER, v), ctype) for path, (text, ctype) in texts.items()}
        return Snapshot.create(version, content_hash, artifacts, {**live, "version": version})

    return content_hash, stamp
