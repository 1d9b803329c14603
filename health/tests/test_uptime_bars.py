"""The status page's uptime bars read the probes' rollups for services with probes:
exact figures for the weights, partial days, days without data, locations and
quorum; services without probes keep the timeline's figures; nothing internal
reaches the page."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from health import services
from health.models import Location, Probe, ProbeRollup
from incidents import services as incident_services
from incidents.public import rebuild
from incidents.public.measured import with_measured
from incidents.public.uptime import component_uptime
from incidents.tests.public_support import snapshot_dir  # noqa: F401 - registers the fixture
from portal.tests.factories import ServiceFactory, declare

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def probe(service: Any, name: str = "API", locations: list[str] | None = None, quorum: int = 1) -> Probe:
    for location in locations or []:
        services.location_create(name=location)
    return services.probe_create(
        by=None, service=service, name=name, kind="tcp", target={"host": "127.0.0.1", "port": 1},
        locations=locations or [], quorum=quorum,
    )  # fmt: skip


def rollup(probe: Probe, period: str, bucket: datetime, up: int = 0, degraded: int = 0, down: int = 0, location: str = "local") -> None:
    ProbeRollup.objects.create(
        probe=probe, location=Location.objects.get_or_create(name=location)[0], period=period, bucket=bucket,
        total=up + degraded + down or 10, up=up, degraded=degraded, down=down,
    )  # fmt: skip


def bars(service: Any, now: datetime = NOW) -> dict[date, tuple[float, str, int]]:
    built = with_measured(component_uptime([service.pk], days=3, now=now), now=now)[service.pk]
    return {b.day: (round(b.uptime, 6), b.worst, len(b.incidents)) for b in built}


def test_a_day_reads_its_day_rollup_with_the_timeline_weights(cast: Any) -> None:
    checked = probe(cast.service)
    # 5 % down counts whole, 5 % degraded a tenth: 94.5 %
    rollup(checked, "day", at(8, 0), up=90, degraded=5, down=5)
    rollup(checked, "hour", at(8, 3), down=100)  # the day rollup already counts this hour
    # degraded only: 20 % at a tenth, 98 %, coloured as degraded performance
    rollup(checked, "day", at(9, 0), up=80, degraded=20)
    assert bars(cast.service)[date(2026, 3, 8)] == (94.5, "major_outage", 0)
    assert bars(cast.service)[date(2026, 3, 9)] == (98.0, "degraded_performance", 0)


def test_a_day_without_data_keeps_the_timeline_figure(cast: Any) -> None:
    checked = probe(cast.service)
    with time_machine.travel(at(9, 0), tick=False):
        incident = declare(by=cast.owner, visibility="public", impacts={cast.service: "major_outage"})
    with time_machine.travel(at(9, 6), tick=False):
        incident_services.incident_change_status(incident=incident.pk, status="resolved", by=cast.owner)
    rollup(checked, "day", at(9, 0))  # ten results, all "no data": the prober was unhealthy
    rollup(checked, "day", at(8, 0), up=100)
    shown = bars(cast.service)
    assert shown[date(2026, 3, 9)] == (75.0, "major_outage", 1)  # 6 h down of 24, from the timeline
    assert shown[date(2026, 3, 8)] == (100.0, "operational", 0)
    assert shown[date(2026, 3, 10)] == (100.0, "operational", 0)  # nothing measured yet today


def test_today_and_yesterday_read_hours_and_the_current_hour_its_minutes(cast: Any) -> None:
    checked = probe(cast.service)
    for hour in range(12):  # today's finished hours: 1,440 results, 60 down
        rollup(checked, "hour", at(10, hour), up=60 if hour == 5 else 120, down=60 if hour == 5 else 0)
    rollup(checked, "minute", at(10, 11, 59), down=2)  # its hour has a rollup: counted there
    for minute in range(30):  # the current hour: 60 results, 2 degraded
        rollup(checked, "minute", at(10, 12, minute), up=0 if minute == 10 else 2, degraded=2 if minute == 10 else 0)
    # yesterday's day rollup is not built yet: its hours count
    rollup(checked, "hour", at(9, 23), up=100, degraded=20)
    shown = bars(cast.service)
    assert shown[date(2026, 3, 10)] == (round(100 * (1 - 60 / 1500 - 0.1 * 2 / 1500), 6), "major_outage", 0)
    assert shown[date(2026, 3, 9)] == (round(100 * (1 - 0.1 * 20 / 120), 6), "degraded_performance", 0)


def test_a_probe_counts_its_quorum_th_worst_location_and_a_service_its_worst_probe(cast: Any) -> None:
    spread = probe(cast.service, "Spread", locations=["local", "eu"], quorum=2)
    rollup(spread, "day", at(9, 0), up=50, down=50, location="local")
    rollup(spread, "day", at(9, 0), up=90, down=10, location="eu")
    # both locations must agree: the better one's 10 % is what they agreed on
    assert bars(cast.service)[date(2026, 3, 9)] == (90.0, "major_outage", 0)
    Probe.objects.filter(pk=spread.pk).update(quorum=1)
    assert bars(cast.service)[date(2026, 3, 9)] == (50.0, "major_outage", 0)
    Probe.objects.filter(pk=spread.pk).update(quorum=2)
    second = probe(cast.service, "Second")
    rollup(second, "day", at(9, 0), up=80, down=20)
    assert bars(cast.service)[date(2026, 3, 9)] == (80.0, "major_outage", 0)


def test_a_public_incident_colours_a_measured_day_it_made_worse(cast: Any) -> None:
    checked = probe(cast.service)
    rollup(checked, "day", at(9, 0), up=99, degraded=1)
    with time_machine.travel(at(9, 1), tick=False):
        incident = declare(by=cast.owner, visibility="public", impacts={cast.service: "partial_outage"})
    with time_machine.travel(at(9, 2), tick=False):
        incident_services.incident_change_status(incident=incident.pk, status="resolved", by=cast.owner)
    # the figure is measured, the colour the worse of both, the incident stays listed
    assert bars(cast.service)[date(2026, 3, 9)] == (99.9, "partial_outage", 1)


def test_services_without_probes_keep_the_timeline(cast: Any) -> None:
    other = ServiceFactory(slug="web", name="Web")
    checked = probe(cast.service)
    rollup(checked, "day", at(9, 0), up=50, down=50)
    with time_machine.travel(at(9, 0), tick=False):
        incident = declare(by=cast.owner, visibility="public", impacts={other: "partial_outage"})
    with time_machine.travel(at(9, 12), tick=False):
        incident_services.incident_change_status(incident=incident.pk, status="resolved", by=cast.owner)
    assert bars(other)[date(2026, 3, 9)] == (round(100 * (1 - 0.5 * 0.3), 6), "partial_outage", 1)
    assert bars(cast.service)[date(2026, 3, 9)] == (50.0, "major_outage", 0)


def test_the_status_page_shows_the_measured_figure_and_nothing_of_the_probe(client: Any, cast: Any, snapshot_dir: Any) -> None:  # noqa: F811
    checked = probe(cast.service, "db-primary.internal:5432 secret probe")
    yesterday = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    rollup(checked, "day", yesterday, up=90, down=10)
    hidden = probe(cast.internal_service, "internal-only probe")
    rollup(hidden, "day", yesterday, down=100)
    rebuild.rebuild()
    html = client.get("/status/").content.decode()
    assert re.search(r"90-day uptime (\d+\.\d\d)%", html).group(1) == f"{(89 * 100 + 90) / 90:.2f}"  # type: ignore[union-attr]
    assert f"{yesterday:%b} {yesterday.day} · 90.00%" in html
    for text in ("db-primary", "secret probe", "internal-only", "Billing worker", "127.0.0.1"):
        assert text not in html


def test_the_service_page_shows_the_same_daily_bars(cast: Any) -> None:
    from django.test import Client

    checked = probe(cast.service)
    yesterday = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    rollup(checked, "day", yesterday, up=90, down=10)
    page = Client()
    page.force_login(cast.viewer)
    html = page.get(f"/health/services/{cast.service.slug}/probes/").content.decode()
    assert 'class="uptime-bars"' in html and html.count("<rect") == 90
    assert f"{yesterday:%b} {yesterday.day} · 90.00%" in html
    assert "90.00% uptime over 1 measured day," in html
