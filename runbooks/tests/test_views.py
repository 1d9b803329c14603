"""Runbook pages: library, import with preview, run page actions, war room panel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.test import Client
from django.utils import timezone

from incidents.models import Alert, Integration
from portal.tests.factories import declare
from runbooks.models import Run, Runbook, StepRun
from runbooks.services import StepInput, runbook_save
from runbooks.tests.support import approver, cluster, latency_runbook

FIXTURES = Path(__file__).parent / "fixtures"


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_library_lists_and_searches(cast: Any) -> None:
    latency_runbook(cast.owner)
    runbook_save(title="Database failover", by=cast.owner, steps=[StepInput(title="Call the DBA")], services=[cast.service])
    page = _client(cast.viewer).get("/runbooks/").content.decode()
    assert "High API latency" in page and "Database failover" in page and "Import Markdown" not in page
    assert "Runbooks</a>" in page  # in the nav
    found = _client(cast.viewer).get("/runbooks/?service=api").content.decode()
    assert "Database failover" in found and "High API latency" not in found


def test_import_shows_a_preview_then_saves_for_managers_only(cast: Any) -> None:
    markdown = (FIXTURES / "database.md").read_text()
    assert _client(cast.responder).post("/runbooks/import/", {"markdown": markdown, "preview": "1"}).status_code == 403
    owner = _client(cast.owner)
    preview = owner.post("/runbooks/import/", {"markdown": markdown, "preview": "1"}).content.decode()
    assert "Issue: Connection Pool Exhausted" in preview and "k8s.scale" in preview and "dangerous" in preview
    assert not Runbook.objects.exists()
    saved = owner.post("/runbooks/import/", {"markdown": markdown, "save": "1"})
    assert saved.status_code == 302 and Runbook.objects.count() == 2
    empty = owner.post("/runbooks/import/", {"markdown": "", "preview": "1"}).content.decode()
    assert "Paste a Markdown runbook or upload one." in empty


def test_a_run_from_the_pages(cast: Any, k8s: Any) -> None:
    runbook = latency_runbook(cast.owner)
    incident = declare(by=cast.responder)
    cluster()
    assert _client(cast.viewer).post(f"/runbooks/{runbook.pk}/run/", {"cluster": "stub"}).status_code == 403
    started = _client(cast.responder).post(f"/runbooks/{runbook.pk}/run/", {"incident": incident.pk, "cluster": "stub"})
    run = Run.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/runbooks/runs/{run.pk}/"
    first, scale, _ = run.step_runs.order_by("order")
    page = _client(cast.responder).get(f"/runbooks/runs/{run.pk}/").content.decode()
    assert "Done</button>" in page and f"/ws/runbooks/runs/{run.pk}/" in page
    _client(cast.responder).post(f"/runbooks/steps/{first.pk}/complete/", {"outcome": "succeeded", "note": "checked"})
    refused = _client(cast.responder).post(f"/runbooks/steps/{scale.pk}/approve/", follow=True).content.decode()
    assert "Someone other than the person who started the run" in refused
    partial = _client(approver()).post(f"/runbooks/steps/{scale.pk}/approve/", HTTP_HX_REQUEST="true").content.decode()
    assert "Approved" in partial and "<html" not in partial
    assert StepRun.objects.get(pk=scale.pk).state == "approved"


def test_the_war_room_suggests_runbooks_by_alert_name_and_by_annotation(cast: Any) -> None:
    by_name = latency_runbook(cast.owner)
    linked = runbook_save(title="Gateway deep dive", by=cast.owner, steps=[StepInput(title="Read the code")])
    runbook_save(title="Unrelated", by=cast.owner, steps=[StepInput(title="Nothing")], alert_names=["DiskFull"])
    incident = declare(by=cast.responder)
    integration = Integration.objects.create(kind="alertmanager", name="am", token_hash="x" * 64)
    now = timezone.now()
    Alert.objects.create(integration=integration, fingerprint="f1", group_key="g", title="latency", incident=incident,
                         labels={"alertname": "HighAPILatency"}, starts_at=now, last_transition_at=now,
                         annotations={"runbook_url": f"https://portal.example.com/runbooks/{linked.pk}/"})  # fmt: skip
    war_room = _client(cast.viewer).get(f"/incidents/{incident.reference}/").content.decode()
    assert f"/runbooks/incidents/{incident.pk}/panel/" in war_room
    panel = _client(cast.viewer).get(f"/runbooks/incidents/{incident.pk}/panel/").content.decode()
    assert "Gateway deep dive" in panel and "linked from the alert" in panel
    assert "High API latency" in panel and "answers HighAPILatency" in panel
    assert "Unrelated" not in panel
    assert f"/runbooks/{by_name.pk}/?incident=INC-{incident.pk}" in panel
