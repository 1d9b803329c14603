"""Uptime from the timeline's impact changes, with exact figures: the weights,
overlapping incidents, day clipping, and history that later changes leave alone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine

from incidents import services
from incidents.public.uptime import component_uptime
from portal.tests.factories import ServiceFactory, declare

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)


def _declare(when: datetime, by: Any, impacts: dict[Any, str], visibility: str = "public") -> Any:
    with time_machine.travel(when, tick=False):
        return declare(by=by, visibility=visibility, impacts=impacts)


def _impact(when: datetime, incident: Any, service: Any, impact: str | None, by: Any) -> None:
    with time_machine.travel(when, tick=False):
        services.incident_set_impact(incident=incident.pk, service=service, impact=impact, by=by)


def _resolve(when: datetime, incident: Any, by: Any) -> None:
    with time_machine.travel(when, tick=False):
        services.incident_change_status(incident=incident.pk, status="resolved", by=by)


def _bars(service: Any) -> dict[date, tuple[float, str, int]]:
    bars = component_uptime([service.pk], days=3, now=NOW)[service.pk]
    return {b.day: (round(b.uptime, 6), b.worst, len(b.incidents)) for b in bars}


def test_each_impact_counts_for_the_time_it_lasted_with_its_weight(cast: Any) -> None:
    incident = _declare(at(9, 0), cast.owner, {cast.service: "degraded_performance"})
    _impact(at(9, 6), incident, cast.service, "major_outage", cast.owner)
    _impact(at(9, 7), incident, cast.service, "partial_outage", cast.owner)
    _resolve(at(9, 12), incident, cast.owner)
    # 6 h x 0.1 + 1 h x 1.0 + 5 h x 0.3 = 3.1 h down of 24 h. (The incident's last
    # impact over its whole life would say 12 h x 0.3 = 3.6 h, 85 %.)
    assert _bars(cast.service)[date(2026, 3, 9)] == (round(100 * (1 - 3.1 / 24), 6), "major_outage", 1)
    assert _bars(cast.service)[date(2026, 3, 8)] == (100.0, "operational", 0)


def test_overlapping_incidents_count_the_heaviest_impact_once(cast: Any) -> None:
    first = _declare(at(9, 0), cast.owner, {cast.service: "degraded_performance"})
    _impact(at(9, 6), first, cast.service, "major_outage", cast.owner)
    _impact(at(9, 7), first, cast.service, "partial_outage", cast.owner)
    _resolve(at(9, 12), first, cast.owner)
    second = _declare(at(9, 5), cast.owner, {cast.service: "partial_outage"})
    _resolve(at(9, 8), second, cast.owner)
    # 00-05 0.1, 05-06 0.3, 06-07 1.0, 07-08 0.3, 08-12 0.3: 3.3 h of 24 h.
    assert _bars(cast.service)[date(2026, 3, 9)] == (86.25, "major_outage", 2)


def test_days_are_clipped_and_today_counts_up_to_now(cast: Any) -> None:
    night = _declare(at(8, 18), cast.owner, {cast.service: "major_outage"})
    _resolve(at(9, 6), night, cast.owner)
    _declare(at(10, 6), cast.owner, {cast.service: "major_outage"})  # still open at NOW
    assert _bars(cast.service) == {
        date(2026, 3, 8): (75.0, "major_outage", 1),
        date(2026, 3, 9): (75.0, "major_outage", 1),
        date(2026, 3, 10): (50.0, "major_outage", 1),  # 6 h down of the 12 h so far
    }


def test_a_removed_impact_ends_there_and_internal_incidents_do_not_count(cast: Any) -> None:
    incident = _declare(at(9, 0), cast.owner, {cast.service: "major_outage"})
    _impact(at(9, 2), incident, cast.service, None, cast.owner)
    _declare(at(9, 3), cast.owner, {cast.service: "major_outage"}, visibility="internal")
    other = ServiceFactory.create(slug="web", name="Web")
    assert _bars(cast.service)[date(2026, 3, 9)] == (round(100 * (1 - 2 / 24), 6), "major_outage", 1)
    assert _bars(other)[date(2026, 3, 9)] == (100.0, "operational", 0)


def test_a_backdated_declaration_counts_from_its_start(cast: Any) -> None:
    with time_machine.travel(at(9, 10), tick=False):
        incident = declare(by=cast.owner, visibility="public", impacts={cast.service: "partial_outage"}, started_at=at(9, 0))
    _resolve(at(9, 12), incident, cast.owner)
    # 12 h x 0.3 = 3.6 h down, counted from 00:00 although declared at 10:00.
    assert _bars(cast.service)[date(2026, 3, 9)] == (85.0, "partial_outage", 1)
