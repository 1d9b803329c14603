"""The public status page, its feeds, badges and Statuspage-compatible JSON."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from incidents.models import Visibility
from incidents.public import rebuild, store
from incidents.public.uptime import component_uptime
from incidents.services import incident_change_status, incident_change_visibility, incident_post_update
from incidents.tests.public_support import SECRETS
from portal.tests.factories import declare
from portal.tests.support import present

pytestmark = pytest.mark.django_db

API_DOCS = [
    "summary.json",
    "status.json",
    "components.json",
    "incidents.json",
    "incidents/unresolved.json",
    "scheduled-maintenances.json",
    "scheduled-maintenances/upcoming.json",
    "scheduled-maintenances/active.json",
]
COMPONENT_STATUSES = {"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
MAINTENANCE_STATUSES = {"scheduled", "in_progress", "verifying", "completed"}
IMPACTS = {"none", "minor", "major", "critical"}
PAGE_KEYS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_KEYS = {
    "id", "name", "status", "created_at", "updated_at", "position", "description", "showcase", "start_date",
    "group_id", "page_id", "group", "only_show_if_degraded",
}  # fmt: skip
INCIDENT_KEYS = {
    "id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact", "shortlink",
    "started_at", "page_id", "incident_updates", "components",
}  # fmt: skip
UPDATE_KEYS = {
    "id", "status", "body", "incident_id", "created_at", "updated_at", "display_at", "affected_components",
    "deliver_notifications", "custom_tweet", "tweet_id",
}  # fmt: skip
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _all_public_bytes(client: Any, snap: Any) -> dict[str, str]:
    """Every artifact as served over HTTP, plus the websocket message."""
    out = {path: client.get(path).content.decode() for path in snap.artifacts}
    out["<websocket>"] = snap.live_text
    return out


def _component_status(html: str, service_id: int) -> str:
    match = re.search(rf'data-component-id="s{service_id}">.*?data-status="(\w+)"', html, re.S)
    assert match is not None
    return match.group(1)


def test_the_status_page_shows_public_incidents_components_and_maintenance(client: Any, cast: Any, world: Any) -> None:
    rebuild.rebuild()
    response = client.get("/status/")
    assert response.status_code == 200
    html = response.content.decode()
    incident = world["public"]
    block = re.search(rf'data-incident-id="{incident.pk}".*?</article>', html, re.S)
    assert block is not None
    assert re.search(r'data-field="status">Identified<', block.group(0))
    assert "We are <strong>investigating</strong> elevated errors." in block.group(0)
    assert 'data-field="overall-status">Partial System Outage<' in html
    # Components, grouped, with their status and 90 uptime bars each.
    assert _component_status(html, cast.service.pk) == "partial_outage"
    assert html.count("<rect ") == 90 * 2
    assert "Platform" in html
    assert "Database upgrade" in html and "CDN migration" in html
    assert f'data-component-id="s{world["web"].pk}"' in html
    # Website: under maintenance; the internal incident on it does not count.
    assert _component_status(html, world["web"].pk) == "under_maintenance"


def test_no_internal_incident_service_note_role_or_window_reaches_any_surface(client: Any, world: Any) -> None:
    rebuild.rebuild()
    snap = store.current()
    assert snap is not None
    surfaces = _all_public_bytes(client, snap)
    # pages, history, the public incident's page, feeds, badges, JSON, websocket
    assert len(surfaces) >= 5 + 1 + 2 + 8 + 1
    for where, body in surfaces.items():
        for secret in SECRETS:
            assert secret not in body, f"{secret!r} leaked on {where}"
    assert client.get(f"/status/incidents/{world['internal'].pk}/").status_code == 404
    assert client.get("/status/badge/billing-worker.svg").status_code == 404


def test_an_internal_incident_on_a_public_service_does_not_degrade_it(client: Any, cast: Any, snapshot_dir: Any) -> None:
    declare(by=cast.owner, title="Quiet trouble", visibility="internal", impacts={cast.service: "major_outage"})
    rebuild.rebuild()
    summary = client.get("/api/v2/summary.json").json()
    assert summary["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert [c["status"] for c in summary["components"]] == ["operational"]
    assert summary["incidents"] == []
    assert "Quiet trouble" not in client.get("/status/").content.decode()


def test_an_incident_made_internal_disappears_from_every_surface(client: Any, cast: Any, snapshot_dir: Any) -> None:
    incident = declare(by=cast.owner, title="Short-lived public", visibility="public", impacts={cast.service: "degraded_performance"})
    rebuild.rebuild()
    assert "Short-lived public" in client.get("/status/").content.decode()
    incident_change_visibility(incident=incident, visibility=Visibility.INTERNAL, by=cast.owner)
    rebuild.rebuild()
    for path, body in _all_public_bytes(client, store.current()).items():
        assert "Short-lived public" not in body, path
    assert client.get(f"/status/incidents/{incident.pk}/").status_code == 404


def test_every_api_v2_document_has_statuspage_shape_and_cors(client: Any, world: Any) -> None:
    rebuild.rebuild()
    docs = {}
    for name in API_DOCS:
        response = client.get(f"/api/v2/{name}")
        assert response.status_code == 200, name
        assert response["Content-Type"] == "application/json"
        assert response["Access-Control-Allow-Origin"] == "*"
        docs[name] = response.json()
        assert set(docs[name]["page"]) == PAGE_KEYS
        assert ISO.match(docs[name]["page"]["updated_at"])

    summary = docs["summary.json"]
    assert set(summary) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
    assert set(docs["status.json"]) == {"page", "status"}
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}

    components = docs["components.json"]["components"]
    assert components == summary["components"]
    for component in components:
        assert COMPONENT_KEYS <= set(component)
        assert component["status"] in COMPONENT_STATUSES
        assert isinstance(component["id"], str) and isinstance(component["position"], int)
        assert isinstance(component["group"], bool) and component["only_show_if_degraded"] is False
    group = next(c for c in components if c["group"])
    assert group["name"] == "Platform" and group["status"] == "partial_outage"
    members = [c for c in components if c["group_id"] == group["id"]]
    assert [m["id"] for m in members] == group["components"] and [m["name"] for m in members] == ["Public API"]
    assert {c["name"] for c in components} == {"Platform", "Public API", "Website"}

    (incident,) = summary["incidents"]
    assert set(incident) == INCIDENT_KEYS
    assert incident["status"] == "identified" and incident["status"] in INCIDENT_STATUSES
    assert incident["impact"] == "major" and incident["impact"] in IMPACTS
    assert incident["shortlink"].endswith(f"/status/incidents/{world['public'].pk}/")
    assert [c["name"] for c in incident["components"]] == ["Public API"]
    latest, update = incident["incident_updates"]  # newest first; the incident's status is the latest's
    assert latest["status"] == incident["status"] == "identified" and set(latest) == UPDATE_KEYS
    assert set(update) == UPDATE_KEYS
    assert update["status"] == "investigating" and update["body"] == "We are **investigating** elevated errors."
    assert update["incident_id"] == incident["id"] and ISO.match(update["display_at"])
    assert docs["incidents/unresolved.json"]["incidents"] == summary["incidents"]
    assert [i["name"] for i in docs["incidents.json"]["incidents"]] == ["Checkout errors"]

    maintenances = summary["scheduled_maintenances"]
    assert [m["name"] for m in maintenances] == ["CDN migration", "Database upgrade"]
    for m in maintenances:
        assert INCIDENT_KEYS | {"scheduled_for", "scheduled_until"} <= set(m)
        assert m["status"] in MAINTENANCE_STATUSES and m["impact"] == "maintenance"
        assert ISO.match(m["scheduled_for"]) and ISO.match(m["scheduled_until"])
    upcoming = docs["scheduled-maintenances/upcoming.json"]["scheduled_maintenances"]
    assert [(m["name"], m["status"]) for m in upcoming] == [("Database upgrade", "scheduled")]
    assert [c["name"] for c in upcoming[0]["components"]] == ["Public API"]  # the internal service is left out
    active = docs["scheduled-maintenances/active.json"]["scheduled_maintenances"]
    assert [(m["name"], m["status"]) for m in active] == [("CDN migration", "in_progress")]
    assert {m["name"] for m in docs["scheduled-maintenances.json"]["scheduled_maintenances"]} == {"CDN migration", "Database upgrade"}


def test_component_changes_in_a_public_update_are_listed_as_affected_components(client: Any, cast: Any, snapshot_dir: Any) -> None:
    incident = declare(by=cast.owner, visibility="public")
    incident_post_update(incident=incident, body="API degraded", by=cast.owner, components={cast.service: "degraded_performance"})
    rebuild.rebuild()
    (update,) = client.get("/api/v2/incidents/unresolved.json").json()["incidents"][0]["incident_updates"]
    assert update["affected_components"] == [
        {"code": f"s{cast.service.pk}", "name": "Public API", "old_status": "operational", "new_status": "degraded_performance"}
    ]


def test_incident_impact_follows_severity_and_resolved_incidents_leave_unresolved(client: Any, cast: Any, snapshot_dir: Any) -> None:
    sev1 = declare(by=cast.owner, title="Big", sev="SEV1", visibility="public")
    declare(by=cast.owner, title="Small", sev="SEV3", visibility="public")
    declare(by=cast.owner, title="Tiny", sev="SEV4", visibility="public")
    rebuild.rebuild()
    impacts = {i["name"]: i["impact"] for i in client.get("/api/v2/incidents.json").json()["incidents"]}
    assert impacts == {"Big": "critical", "Small": "minor", "Tiny": "none"}
    assert client.get("/api/v2/status.json").json()["status"]["indicator"] == "critical"
    incident_change_status(incident=sev1, status="resolved", by=cast.owner)
    rebuild.rebuild()
    assert {i["name"] for i in client.get("/api/v2/incidents/unresolved.json").json()["incidents"]} == {"Small", "Tiny"}
    resolved = next(i for i in client.get("/api/v2/incidents.json").json()["incidents"] if i["name"] == "Big")
    assert resolved["status"] == "resolved" and ISO.match(resolved["resolved_at"])
    assert client.get("/api/v2/status.json").json()["status"]["indicator"] == "minor"


def test_etag_gives_304_and_cache_headers_allow_stale_serving(client: Any, world: Any) -> None:
    rebuild.rebuild()
    for path in ["/status/", "/api/v2/summary.json", "/status/feed.atom", "/status/badge/api.svg"]:
        first = client.get(path)
        cache_control = first["Cache-Control"]
        assert "max-age=10" in cache_control and "stale-while-revalidate" in cache_control and "stale-if-error" in cache_control
        again = client.get(path, HTTP_IF_NONE_MATCH=first["ETag"])
        assert again.status_code == 304 and again.content == b""
        assert again["ETag"] == first["ETag"]
        assert client.get(path, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_a_public_change_changes_the_etag_and_an_unchanged_rebuild_publishes_nothing(client: Any, cast: Any, world: Any) -> None:
    # A frozen clock: today's uptime with an incident open moves with every second
    # (visibly so just after midnight UTC), and the test is about unchanged content.
    with time_machine.travel(timezone.now(), tick=False):
        first_version = rebuild.rebuild()
        etag = client.get("/status/")["ETag"]
        assert rebuild.rebuild() is None  # nothing public changed
        assert client.get("/status/")["ETag"] == etag
        incident_post_update(incident=world["public"], status="monitoring", body="A fix is out.", by=cast.owner)
        second_version = rebuild.rebuild()
        assert second_version is not None and first_version is not None and second_version > first_version
        response = client.get("/status/", HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 200 and 'data-field="status">Monitoring<' in response.content.decode()


def test_a_slower_older_build_never_replaces_a_newer_snapshot(cast: Any, world: Any) -> None:
    from incidents.public import snapshot

    _, stale_stamp = snapshot.build()
    stale_version = snapshot.new_version()
    incident_post_update(incident=world["public"], status="monitoring", body="A fix is out.", by=cast.owner)
    newer = rebuild.rebuild()
    assert newer is not None and newer > stale_version
    assert store.publish(stale_stamp(stale_version)) is False
    assert present(store.current()).version == newer


def test_api_preflight_and_unsafe_methods(client: Any, world: Any) -> None:
    rebuild.rebuild()
    preflight = client.options("/api/v2/summary.json", HTTP_ORIGIN="https://example.org", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert preflight.status_code == 204 and preflight["Access-Control-Allow-Origin"] == "*"
    assert client.post("/api/v2/summary.json").status_code == 405
    assert client.get("/api/v2/nonsense.json").status_code == 404


def test_feeds_are_valid_atom_and_rss_with_public_updates(client: Any, world: Any) -> None:
    rebuild.rebuild()
    atom = client.get("/status/feed.atom")
    assert atom["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(atom.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in root.findall("a:entry", ns)]
    assert "Checkout errors" in titles and "Maintenance: Database upgrade" in titles
    entry = next(e for e in root.findall("a:entry", ns) if e.findtext("a:title", namespaces=ns) == "Checkout errors")
    assert "elevated errors" in (entry.findtext("a:summary", namespaces=ns) or "")
    rss = ET.fromstring(client.get("/status/feed.rss").content)
    assert "Checkout errors" in [i.findtext("title") for i in rss.iter("item")]


def test_badges_are_svg_with_the_component_status(client: Any, world: Any) -> None:
    rebuild.rebuild()
    response = client.get("/status/badge/api.svg")
    assert response["Content-Type"] == "image/svg+xml"
    svg = ET.fromstring(response.content)
    assert svg.tag.endswith("svg")
    assert "Public API: partial outage" in response.content.decode()
    assert "status: partial system outage" in client.get("/status/badge.svg").content.decode()
    assert client.get("/status/badge/nope.svg").status_code == 404


def test_incident_pages_history_and_old_incidents(client: Any, cast: Any, world: Any) -> None:
    old = declare(by=cast.owner, title="Ancient outage", visibility="public", started_at=timezone.now() - timedelta(days=200))
    incident_change_status(incident=old, status="resolved", by=cast.owner)
    rebuild.rebuild()
    page = client.get(f"/status/incidents/{world['public'].pk}/")
    assert page.status_code == 200
    assert 'data-field="status">Identified<' in page.content.decode()
    assert "Checkout errors" in client.get("/status/history/").content.decode()
    # Older than the snapshot window: rendered from the database, still public only.
    assert f"/status/incidents/{old.pk}/" not in present(store.current()).artifacts
    response = client.get(f"/status/incidents/{old.pk}/")
    assert response.status_code == 200 and "Ancient outage" in response.content.decode()
    assert client.get("/status/incidents/999999/").status_code == 404


def test_a_cold_start_builds_the_first_snapshot_on_demand(client: Any, world: Any) -> None:
    assert store.current() is None
    response = client.get("/api/v2/status.json")
    assert response.status_code == 200 and response.json()["status"]["indicator"] == "major"


def test_uptime_bars_reflect_public_incident_history(client: Any, cast: Any, snapshot_dir: Any) -> None:
    declare(
        by=cast.owner, title="Yesterday", visibility="public", impacts={cast.service: "major_outage"},
        started_at=timezone.now() - timedelta(days=3),
    )  # fmt: skip
    rebuild.rebuild()
    html = client.get("/status/").content.decode()
    assert 'class="u-major_outage"' in html
    # Down since three days ago (exact figures: test_uptime.py): the first of those
    # days partly, the two after wholly, today so far, out of 90 days.
    bars = component_uptime([cast.service.pk], days=90)[cast.service.pk]
    expected = sum(b.uptime for b in bars) / 90
    assert 95.5 < expected < 96.7  # 86 whole days up, and the part of the day before it started
    shown = float(present(re.search(r"90-day uptime (\d+\.\d\d)%", html)).group(1))
    assert abs(shown - expected) <= 0.01  # built a moment earlier, rounded to two places
