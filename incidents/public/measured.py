"""Measured uptime: how automated checks supply the status page's daily bars.

The incident core owns the bars (`uptime.DayBar`), their weights and colours; it
does not know who measures. An app that measures services (health probes)
registers a source when it loads (`register_source`, from its `AppConfig.ready`).
A source is asked for the public services the page shows and answers, per
service and UTC day, the share of the measured time spent at each impact. Days
it answers replace the timeline's uptime figure; days it leaves out (the service
has no probe, or nothing was measured that day) keep the timeline's figure. The
colour is the worse of the two, and the incidents touching the day stay listed.

Only numbers cross this seam: no probe name, target, message or latency reaches
the public page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime

from incidents.models import IMPACT_RANK, Impact
from incidents.public.uptime import IMPACT_WEIGHT, DayBar


@dataclass(frozen=True)
class MeasuredDay:
    """What was measured of one service on one day: the share of the measured time
    at each impact, e.g. {"major_outage": 0.02, "degraded_performance": 0.1}."""

    shares: Mapping[str, float]

    @property
    def down(self) -> float:
        """The weighted share of the day that counts as down, with the weights the
        timeline uses (a major outage counts whole, degraded performance a tenth)."""
        return min(1.0, sum(IMPACT_WEIGHT[impact] * share for impact, share in self.shares.items()))

    @property
    def worst(self) -> str:
        seen = [impact for impact, share in self.shares.items() if share > 0]
        return max(seen, key=lambda i: IMPACT_RANK[Impact(i)], default=Impact.OPERATIONAL)


# (public service ids, first day, now) -> {service id: {day: MeasuredDay}}
Source = Callable[[list[int], date, datetime], Mapping[int, Mapping[date, MeasuredDay]]]
_sources: list[Source] = []


def register_source(source: Source) -> None:
    """Add a source of measured uptime (once; registering it again changes nothing)."""
    if source not in _sources:
        _sources.append(source)


def _worse(a: str, b: str) -> str:
    return a if IMPACT_RANK[Impact(a)] >= IMPACT_RANK[Impact(b)] else b


def with_measured(bars: dict[int, list[DayBar]], *, now: datetime) -> dict[int, list[DayBar]]:
    """The timeline's bars, with each day a source measured replaced by its figure.
    When two sources measure the same day, the lower uptime counts."""
    first_days = [service_bars[0].day for service_bars in bars.values() if service_bars]
    if not _sources or not first_days:
        return bars
    measured: dict[int, dict[date, MeasuredDay]] = {}
    for source in _sources:
        for service_id, days in source(list(bars), min(first_days), now).items():
            mine = measured.setdefault(service_id, {})
            for day, figure in days.items():
                if day not in mine or figure.down > mine[day].down:
                    mine[day] = figure
    out: dict[int, list[DayBar]] = {}
    for service_id, service_bars in bars.items():
        days = measured.get(service_id, {})
        out[service_id] = [
            replace(
                bar, uptime=100.0 * (1.0 - days[bar.day].down), worst=_worse(bar.worst, days[bar.day].worst)
            )
            if bar.day in days
            else bar
            for bar in service_bars
        ]
    return out
