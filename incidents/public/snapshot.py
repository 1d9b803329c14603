"""The snapshot: every public page, feed, badge and JSON document as ready bytes.

Built by a worker from the database (`build`), after every public change and on
a schedule; served from memory by every web process. A snapshot is immutable and
carries a version (microseconds since the epoch when its build started, never
lower than the previous one) that the live page uses to catch up, and that says
how old the snapshot is (`Snapshot.built_at`).

Each document is built on its own: one that fails (a template or feed error on
one bad row) is logged and keeps its previous bytes, or an empty valid document,
while every other document is refreshed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as format_date

from incidents.models import Impact, IncidentStatus, MaintenanceStatus
from incidents.public import badges, feeds, statuspage
from incidents.public.data import PublicData, load_public_data

# Replaced by the version after the content hash is taken, so that a rebuild with
# no public change hashes the same and is not published again.
VERSION_PLACEHOLDER = "0SNAPSHOTVERSION0"
# Likewise the build time the page shows ("Updated 14:02 UTC"), from the version.
BUILT_AT_PLACEHOLDER = "0SNAPSHOTBUILTAT0"
BUILT_AT_TEXT_PLACEHOLDER = "0SNAPSHOTBUILTTEXT0"
BUILT_AT_FORMAT = "M j, H:i T"
FORMAT = 1

log = logging.getLogger(__name__)

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
    failed: tuple[str, ...] = ()  # documents that could not be built: served from the previous snapshot

    @property
    def built_at(self) -> datetime:
        return built_at(self.version)

    def age(self, now: float | None = None) -> float:
        """Seconds since this snapshot's build started (never negative)."""
        return max(0.0, (time.time() if now is None else now) - self.version / 1_000_000)

    def dumps(self) -> bytes:
        doc = {
            "format": FORMAT,
            "version": self.version,
            "content_hash": self.content_hash,
            "live": self.live,
            "failed": list(self.failed),
            "artifacts": {path: [a.content_type, a.body.decode()] for path, a in self.artifacts.items()},
        }
        return zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 6)

    @classmethod
    def loads(cls, blob: bytes) -> Snapshot:
        doc = json.loads(zlib.decompress(blob))
        if doc.get("format") != FORMAT:
            raise ValueError(f"unknown snapshot format {doc.get('format')!r}")
        artifacts = {path: Artifact.of(body, content_type) for path, (content_type, body) in doc["artifacts"].items()}
        return cls.create(doc["version"], doc["content_hash"], artifacts, doc["live"], tuple(doc.get("failed", ())))

    @classmethod
    def create(
        cls, version: int, content_hash: str, artifacts: dict[str, Artifact], live: dict[str, Any], failed: tuple[str, ...] = ()
    ) -> Snapshot:
        return cls(version, content_hash, artifacts, live, json.dumps(live, separators=(",", ":")), failed)


def new_version(previous: int = 0) -> int:
    return max(time.time_ns() // 1000, previous + 1)


def built_at(version: int) -> datetime:
    return datetime.fromtimestamp(version / 1_000_000, tz=UTC)


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
            # A resolved incident moves from "active" to the past days, and the
            # time of the last change moves with every change, on open pages too.
            "past": render_to_string("public/_past.html", context),
            "updated": render_to_string("public/_updated.html", context),
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
        "built_at_iso": BUILT_AT_PLACEHOLDER,
        "built_at_text": BUILT_AT_TEXT_PLACEHOLDER,
        "stale_after": settings.PUBLIC_SNAPSHOT_STALE_SECONDS,
    }


Previous = Callable[[], "Snapshot | None"]


def _minimal_live(data: PublicData) -> dict[str, Any]:
    return {"type": "snapshot", "version": VERSION_PLACEHOLDER, "overall": {"indicator": data.indicator, "description": data.description}}


def _safe_live(data: PublicData, context: dict[str, Any], previous: Previous | None, failed: list[str] | None = None) -> dict[str, Any]:
    try:
        return _live(data, context)
    except Exception:
        log.exception("status snapshot: could not build the live message; keeping the previous one")
        if failed is not None:
            failed.append("<live>")
        old = previous() if previous is not None else None
        return {**old.live, "version": VERSION_PLACEHOLDER} if old is not None else _minimal_live(data)


def live_message(data: PublicData, previous: Previous | None = None) -> tuple[str, dict[str, Any]]:
    """The live message alone, cheap to render (the first thing a rebuild sends),
    and its content hash."""
    live = _safe_live(data, _context(data), previous)
    return hashlib.blake2b(json.dumps(live, sort_keys=True).encode(), digest_size=16).hexdigest(), live


# One document: its path, its content type, how to build it, and what to serve
# when that fails and there is no previous version (None: leave it out).
Part = tuple[str, str, Callable[[], str], Callable[[], str] | None]


def _parts(data: PublicData, context: dict[str, Any]) -> list[Part]:
    def page(template: str, extra: dict[str, Any] | None = None) -> Callable[[], str]:
        return lambda: render_to_string(template, {**context, **(extra or {})})

    @cache
    def documents() -> dict[str, Any]:
        return statuspage.documents(data)

    def document(name: str) -> Callable[[], str]:
        return lambda: json.dumps(documents()[name], separators=(",", ":"))

    parts: list[Part] = [
        (reverse("public:status"), HTML, page("public/status.html"), None),
        (reverse("public:history"), HTML, page("public/history.html"), None),
        (reverse("public:feed-atom"), ATOM, lambda: feeds.atom(data), feeds.empty_atom),
        (reverse("public:feed-rss"), RSS, lambda: feeds.rss(data), feeds.empty_rss),
        (reverse("public:page-badge"), SVG, lambda: badges.page_badge("status", data.indicator, data.description), None),
    ]
    for incident in data.history:
        parts.append((reverse("public:incident", args=[incident.pk]), HTML, page("public/incident.html", {"incident": incident}), None))
    for component in data.components:
        parts.append((
            reverse("public:badge", args=[component.service.slug]), SVG,
            partial(badges.component_badge, component.service.name, component.status), None,
        ))  # fmt: skip
    for name in statuspage.DOCUMENTS:
        parts.append((reverse(f"public-api:{name}"), JSON, document(name), None))
    return parts


def _build_part(part: Part, previous: Previous | None, failed: list[str]) -> tuple[str, str] | None:
    path, content_type, make, fallback = part
    try:
        return make(), content_type
    except Exception:
        log.exception("status snapshot: could not build %s; serving its previous version", path)
        failed.append(path)
    old = previous() if previous is not None else None
    artifact = old.artifacts.get(path) if old is not None else None
    if artifact is not None:
        return artifact.body.decode(), artifact.content_type
    if fallback is not None:
        try:
            return fallback(), content_type
        except Exception:
            log.exception("status snapshot: could not build the empty %s either", path)
    return None


def render(
    data: PublicData, previous: Previous | None = None
) -> tuple[dict[str, tuple[str, str]], dict[str, Any], tuple[str, ...]]:
    """Every artifact as (text, content type) by path, the live message (the
    version is still the placeholder) and the paths that failed to build.
    `previous` gives the last published snapshot, asked for only on a failure."""
    if previous is not None:
        previous = cache(previous)
    context = _context(data)
    out: dict[str, tuple[str, str]] = {}
    failed: list[str] = []
    for part in _parts(data, context):
        built = _build_part(part, previous, failed)
        if built is not None:
            out[part[0]] = built
    live = _safe_live(data, context, previous, failed)
    return out, live, tuple(failed)


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


def build(*, previous_version: int = 0, data: PublicData | None = None, previous: Previous | None = None) -> tuple[str, Any]:
    """Read the database and render. Returns (content hash, a function that stamps
    a version and gives the Snapshot), so the caller can skip unchanged content
    before spending a version on it."""
    texts, live, failed = render(data or load_public_data(), previous)
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(texts):
        digest.update(path.encode() + b"\0" + texts[path][0].encode() + b"\0")
    digest.update(json.dumps(live, sort_keys=True).encode())
    digest.update(json.dumps(failed).encode())  # a failure starting or ending is published at once
    content_hash = digest.hexdigest()

    def stamp(version: int) -> Snapshot:
        v = str(version)
        when = built_at(version)
        iso, human = when.isoformat(timespec="seconds"), format_date(timezone.localtime(when), BUILT_AT_FORMAT)
        artifacts = {
            path: Artifact.of(
                text.replace(VERSION_PLACEHOLDER, v).replace(BUILT_AT_PLACEHOLDER, iso).replace(BUILT_AT_TEXT_PLACEHOLDER, human),
                ctype,
            )
            for path, (text, ctype) in texts.items()
        }
        return Snapshot.create(version, content_hash, artifacts, {**live, "version": version}, failed)

    return content_hash, stamp
