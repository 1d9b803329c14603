"""The status page never freezes: a bad row or a failing document does not stop the
rebuild of the others, and a snapshot that stops being rebuilt shows its age on the
page, in /health/ready and in the logs."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from incidents.models import Incident, PublicUpdate
from incidents.public import feeds, freshness, rebuild, snapshot, store
from incidents.public.tasks import rebuild_public_snapshot
from incidents.services import incident_post_update
from portal.tests.support import present

pytestmark = pytest.mark.django_db

ATOM = "/status/feed.atom"


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    freshness.reset_warnings()


def _install_old(minutes: int) -> snapshot.Snapshot:
    """A snapshot built `minutes` ago, published as the current one."""
    _, stamp = snapshot.build()
    old = stamp(snapshot.new_version() - minutes * 60 * 1_000_000)
    store.forget()
    store.redis_client().delete(store._key("version"), store._key("blob"), store._key("hash"))
    assert store.publish(old)
    return old


# --- one bad row, one failing document ----------------------------------------------------


def test_control_characters_stored_before_the_rule_do_not_stop_the_rebuild(client: Any, cast: Any, world: Any) -> None:
    rebuild.rebuild()
    public = world["public"]
    # Rows written before the services cleaned text (or by raw SQL): the Atom
    # feed used to refuse them and with it every later rebuild.
    Incident.objects.filter(pk=public.pk).update(title="Checkout\x01 errors \x1b[31m")
    PublicUpdate.objects.filter(incident=public).update(body_html="<p>We are\x07 investigating\x1b</p>")
    incident_post_update(incident=public, status="monitoring", body="A fix is out.", by=cast.owner)

    assert rebuild.rebuild() is not None
    page = client.get("/status/").content.decode()
    assert 'data-field="status">Monitoring<' in page
    assert client.get("/api/v2/incidents/unresolved.json").json()["incidents"][0]["status"] == "monitoring"
    root = ET.fromstring(client.get(ATOM).content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert "Checkout errors [31m" in [e.findtext("a:title", namespaces=ns) for e in root.findall("a:entry", ns)]
    rss = client.get("/status/feed.rss").content
    assert b"Checkout errors" in rss and b"\x01" not in rss and b"\x1b" not in rss
    ET.fromstring(rss)


def test_a_document_that_fails_keeps_its_previous_bytes_while_the_rest_refresh(
    client: Any, cast: Any, world: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rebuild.rebuild()
    atom_before = client.get(ATOM).content

    def broken(data: Any) -> str:
        raise ValueError("a feed that cannot be written")

    monkeypatch.setattr(feeds, "atom", broken)
    incident_post_update(incident=world["public"], status="monitoring", body="A fix is out.", by=cast.owner)
    with caplog.at_level(logging.ERROR, logger="incidents.public.snapshot"):
        assert rebuild.rebuild() is not None
    assert any("/status/feed.atom" in r.getMessage() for r in caplog.records)
    assert client.get(ATOM).content == atom_before
    assert client.get("/health/ready").json()["status_snapshot"]["failed_documents"] == [ATOM]
    assert 'data-field="status">Monitoring<' in client.get("/status/").content.decode()
    assert 'data-field="status">Monitoring<' in client.get(f"/status/incidents/{world['public'].pk}/").content.decode()
    ET.fromstring(client.get("/status/feed.rss").content)
    assert client.get("/api/v2/summary.json").json()["incidents"][0]["status"] == "monitoring"

    # Fixed: the next rebuild publishes the feed again and the failure is gone.
    monkeypatch.undo()
    assert rebuild.rebuild() is not None
    assert client.get(ATOM).content != atom_before
    assert client.get("/health/ready").json()["status_snapshot"]["failed_documents"] == []


def test_with_no_previous_version_a_failing_feed_is_served_empty_and_valid(
    client: Any, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feeds, "atom", lambda data: 1 / 0)
    assert rebuild.rebuild() is not None
    response = client.get(ATOM)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.findall("{http://www.w3.org/2005/Atom}entry") == []
    assert "Checkout errors" in client.get("/status/").content.decode()


def test_a_failing_rebuild_logs_a_warning_and_keeps_the_snapshot(
    client: Any, world: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    version = rebuild.rebuild()

    def down(**kwargs: Any) -> Any:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(rebuild, "load_public_data", down)
    with caplog.at_level(logging.WARNING, logger="incidents.public.tasks"), pytest.raises(ConnectionError):
        rebuild_public_snapshot.run()
    assert "status snapshot rebuild failed" in caplog.text
    assert client.get("/status/")["X-Snapshot-Version"] == str(version)


# --- age: the page, the refresh, readiness ----------------------------------------------------


def test_the_page_says_when_it_was_built_and_when_to_call_it_stale(client: Any, world: Any, settings: Any) -> None:
    settings.PUBLIC_SNAPSHOT_STALE_SECONDS = 300
    version = present(rebuild.rebuild())
    html = client.get("/status/").content.decode()
    built = snapshot.built_at(version)
    match = re.search(r'data-stale-after="(\d+)">Updated <time data-field="built-at" datetime="([^"]+)">([^<]+)</time>', html)
    assert match is not None, html
    assert match.group(1) == "300"
    assert match.group(2) == built.isoformat(timespec="seconds")
    assert match.group(3) == timezone.localtime(built).strftime("%b %-d, %H:%M ") + "UTC"
    assert "Last change" in html and "0SNAPSHOT" not in html


def test_unchanged_content_is_republished_once_a_refresh_is_due_so_its_age_stays_true(client: Any, world: Any) -> None:
    # A frozen clock: today's uptime with an incident open moves with every second
    # (visibly so just after midnight UTC), and the test is about unchanged content.
    with time_machine.travel(timezone.now(), tick=False):
        first = rebuild.rebuild()
        summary_etag = client.get("/api/v2/summary.json")["ETag"]
        page_etag = client.get("/status/")["ETag"]
        assert rebuild.rebuild() is None  # nothing changed and the snapshot is new
        with time_machine.travel(timezone.now() + timedelta(seconds=rebuild.REFRESH_SECONDS + 5), tick=False):
            refreshed = rebuild.rebuild()
            assert refreshed is not None and first is not None and refreshed > first
            assert present(store.current()).age() < 1
            # Only the page that shows the build time changes bytes; the JSON keeps its ETag.
            assert client.get("/api/v2/summary.json")["ETag"] == summary_etag
            assert client.get("/status/")["ETag"] != page_etag
            assert rebuild.rebuild() is None


def test_readiness_fails_on_a_stale_snapshot_and_says_why(client: Any, world: Any, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.PUBLIC_SNAPSHOT_STALE_SECONDS = 300
    rebuild.rebuild()
    fresh = client.get("/health/ready")
    assert fresh.status_code == 200
    assert fresh.json()["status_snapshot"]["state"] == "ok" and fresh.json()["status_snapshot"]["age_seconds"] < 5

    old = _install_old(minutes=12)
    with caplog.at_level(logging.WARNING, logger="incidents.public.freshness"):
        stale = client.get("/health/ready")
    assert stale.status_code == 503
    body = stale.json()
    assert body["status"] == "unavailable" and body["checks"]["status_snapshot"] == "error: stale"
    assert body["checks"]["database"] == "ok" and body["checks"]["redis"] == "ok"
    assert body["status_snapshot"]["version"] == old.version
    assert 715 <= body["status_snapshot"]["age_seconds"] <= 730
    assert body["status_snapshot"]["stale_after_seconds"] == 300
    assert "status snapshot is stale" in caplog.text

    # The next working rebuild makes it fresh again, content unchanged or not.
    assert rebuild.rebuild() is not None
    assert client.get("/health/ready").status_code == 200

    settings.PUBLIC_SNAPSHOT_STALE_SECONDS = 0  # report only
    _install_old(minutes=60)
    report_only = client.get("/health/ready")
    assert report_only.status_code == 200 and report_only.json()["status_snapshot"]["age_seconds"] >= 3600


def test_readiness_does_not_fail_before_the_first_rebuild_of_a_fresh_install(
    client: Any, snapshot_dir: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PUBLIC_SNAPSHOT_STALE_SECONDS = 300
    store.redis_client().delete(store._key("version"), store._key("blob"), store._key("hash"))
    store.forget()
    monkeypatch.setattr(freshness, "_started", freshness.time.time() - 30)
    starting = client.get("/health/ready")
    assert starting.status_code == 200 and starting.json()["status_snapshot"]["state"] == "not built yet"
    # Still nothing long after start: the worker or its rebuild is broken.
    monkeypatch.setattr(freshness, "_started", freshness.time.time() - 301)
    missing = client.get("/health/ready")
    assert missing.status_code == 503 and missing.json()["checks"]["status_snapshot"] == "error: missing"


# --- text stored before the rule ------------------------------------------------------------


def test_the_data_migration_cleans_stored_public_text_and_changes_nothing_twice(client: Any, cast: Any, world: Any) -> None:
    import importlib

    from django.apps import apps

    from incidents.models import MaintenanceWindow, Service

    migration = importlib.import_module("incidents.migrations.0004_clean_control_characters")
    public = world["public"]
    Incident.objects.filter(pk=public.pk).update(title="Checkout\x01 errors\x1b", summary="line one\x07\nline two")
    PublicUpdate.objects.filter(incident=public).update(body="We are\x1b investigating", body_html="<p>We are\x1b investigating</p>")
    MaintenanceWindow.objects.filter(pk=world["upcoming"].pk).update(title="\x01\x02", description="Short\x0b read-only")
    Service.objects.filter(pk=cast.service.pk).update(name="Public\x1b API")
    updated_at = Incident.objects.get(pk=public.pk).updated_at

    migration.clean(apps, None)

    incident = Incident.objects.get(pk=public.pk)
    assert (incident.title, incident.summary) == ("Checkout errors", "line one\nline two")
    assert incident.updated_at == updated_at  # a repair, not an edit
    for update in PublicUpdate.objects.filter(incident=public):
        assert (update.body, update.body_html) == ("We are investigating", "<p>We are investigating</p>")
    window = MaintenanceWindow.objects.get(pk=world["upcoming"].pk)
    assert (window.title, window.description) == ("-", "Short read-only")
    assert Service.objects.get(pk=cast.service.pk).name == "Public API"

    before = {m: list(m.objects.order_by("pk").values()) for m in (Incident, PublicUpdate, MaintenanceWindow, Service)}
    migration.clean(apps, None)
    assert before == {m: list(m.objects.order_by("pk").values()) for m in (Incident, PublicUpdate, MaintenanceWindow, Service)}
    assert rebuild.rebuild() is not None
    ET.fromstring(client.get(ATOM).content)
