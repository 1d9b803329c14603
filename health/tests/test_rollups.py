"""Rollups per minute, hour and day; retention keeps them; the service page and API read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from health import rollups, services
from health.models import Probe, ProbeResult, ProbeRollup

pytestmark = pytest.mark.django_db

HOUR = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def probe_with_results(cast: Any) -> Probe:
    probe = services.probe_create(by=None, service=cast.service, name="API", kind="tcp", target={"host": "127.0.0.1", "port": 1})
    location = services.default_location()
    rows = []
    for minute in range(60):
        for second, (outcome, ms) in enumerate([("up", 10.0 + minute), ("down" if minute % 10 == 0 else "degraded", 500.0)]):
            at = HOUR + timedelta(minutes=minute, seconds=30 * second)
            rows.append(ProbeResult(probe=probe, location=location, scheduled_at=at, started_at=at, outcome=outcome, response_time_ms=ms))
    ProbeResult.objects.bulk_create(rows)
    return probe


def test_minute_and_hour_rollups(cast: Any) -> None:
    probe = probe_with_results(cast)
    assert rollups.rollup_build(period="minute", bucket=HOUR + timedelta(minutes=10, seconds=5)) == 1
    minute = ProbeRollup.objects.get(period="minute")
    assert (minute.bucket, minute.total, minute.up, minute.down, minute.p50_ms, minute.p99_ms) == (HOUR + timedelta(minutes=10), 2, 1, 1, 20.0, 500.0)
    rollups.rollup_build(period="hour", bucket=HOUR)
    hour = ProbeRollup.objects.get(period="hour")
    assert (hour.total, hour.up, hour.degraded, hour.down) == (120, 60, 54, 6)
    assert hour.uptime == 114 / 120
    assert (hour.p50_ms, hour.p95_ms, hour.p99_ms) == (69.0, 500.0, 500.0)
    # rebuilding a bucket gives the same rows, not more
    rollups.rollup_build(period="hour", bucket=HOUR)
    assert ProbeRollup.objects.filter(period="hour").count() == 1
    # raw results past retention go; rollups stay
    ProbeResult.objects.filter(probe=probe).update(started_at=HOUR - timedelta(days=30))
    assert services.results_prune() == 120
    assert ProbeRollup.objects.count() == 2


def test_recent_rollups_and_the_api(api: Any, cast: Any) -> None:
    probe = probe_with_results(cast)
    built = rollups.rollup_recent(now=HOUR + timedelta(hours=1, minutes=0, seconds=10))
    assert built == {"minute": 1, "hour": 1, "day": 0}
    assert rollups.rollup_recent(now=HOUR + timedelta(hours=1, minutes=0, seconds=20)) == {"minute": 1, "day": 0}  # hour built
    assert rollups.rollup_recent(now=HOUR + timedelta(hours=14)) == {"minute": 0, "hour": 0, "day": 1}  # the day, from its hour
    day = ProbeRollup.objects.get(period="day")
    assert (day.bucket, day.total, day.up, day.down, day.p50_ms, day.p99_ms) == (HOUR.replace(hour=0), 120, 60, 6, 69.0, 500.0)
    response = api.as_(cast.viewer).get(f"/api/v1/probes/{probe.pk}/rollups/?period=hour")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert (row["location"], row["total"], row["uptime"], row["p99_ms"]) == ("local", 120, 0.95, 500.0)
    bad = api.as_(cast.viewer).get(f"/api/v1/probes/{probe.pk}/rollups/?period=week")
    assert bad.status_code == 400 and bad.json()["error"]["fields"]["period"]


def test_the_service_page_shows_uptime_and_a_latency_line(cast: Any) -> None:
    probe = probe_with_results(cast)
    for minute in range(0, 60, 5):
        rollups.rollup_build(period="minute", bucket=HOUR + timedelta(minutes=minute))
    recent = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    for index, row in enumerate(ProbeRollup.objects.filter(period="minute").order_by("bucket")):
        ProbeRollup.objects.filter(pk=row.pk).update(bucket=recent + timedelta(minutes=index))
    page = Client()
    page.force_login(cast.viewer)
    html = page.get(f"/health/services/{cast.service.slug}/probes/").content.decode()
    assert f'data-probe-id="{probe.pk}"' in html
    assert "<svg class=\"latency\"" in html and "<polyline" in html
    assert "75.00%" in html  # minutes 0, 10, ..., 50 had a down result: 18 of 24 results up or degraded
