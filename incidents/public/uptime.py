"""Daily uptime per public component, from incident impact history.

This is the one place uptime is computed: today from the impact changes of
public incidents, later from health probes as well. Callers get one `DayBar`
per day, oldest first.

History is read from the timeline's impact changes (what each service's impact
was from when to when), so a later change never rewrites an earlier day: an
incident that was degraded for an hour and then a major outage for ten minutes
counts as exactly that. A pair (incident, service) with an impact but no
recorded change (rows written before the timeline recorded them) counts its
current impact for the incident's whole life, as before.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

from incidents.models import (
    IMPACT_RANK,
    Impact,
    Incident,
    IncidentService,
    TimelineEvent,
    TimelineKind,
    Visibility,
)

# How much of an interval counts as down time: a major outage is down, a partial
# outage a third, degraded performance a tenth; maintenance is announced and not
# counted against uptime (as Statuspage does).
IMPACT_WEIGHT: dict[str, float] = {
    Impact.MAJOR_OUTAGE: 1.0,
    Impact.PARTIAL_OUTAGE: 0.3,
    Impact.DEGRADED_PERFORMANCE: 0.1,
    Impact.UNDER_MAINTENANCE: 0.0,
    Impact.OPERATIONAL: 0.0,
}
DAY = timedelta(days=1)


@dataclass(frozen=True)
class DayBar:
    day: date
    uptime: float  # percent, 0-100
    worst: str  # the worst Impact seen that day, "operational" when none
    incidents: tuple[int, ...]  # public incident ids that touched the day


def _weighted_downtime(intervals: list[tuple[datetime, datetime, float]]) -> float:
    """Seconds of down time: at each instant only the heaviest impact counts, so
    two overlapping incidents on one service do not count twice."""
    points = sorted({p for start, end, _ in intervals for p in (start, end)})
    total = 0.0
    for a, b in zip(points, points[1:], strict=False):
        weight = max((w for start, end, w in intervals if start <= a and end >= b), default=0.0)
        total += weight * (b - a).total_seconds()
    return total


Span = tuple[datetime, datetime, int, str]  # start, end, incident id, impact


def impact_spans(service_ids: list[int], *, since: datetime, now: datetime) -> dict[int, list[Span]]:
    """Per service, the spans of public incidents' impacts that reach past `since`,
    from the timeline's impact changes; an incident's spans end at its resolution."""
    incidents = {
        pk: (started, min(resolved or now, now))
        for pk, started, resolved in Incident.objects.filter(visibility=Visibility.PUBLIC, started_at__lt=now)
        .exclude(resolved_at__lt=since)
        .values_list("pk", "started_at", "resolved_at")
    }
    wanted = set(service_ids)
    changes: dict[tuple[int, int], list[tuple[datetime, str]]] = defaultdict(list)
    for incident_id, occurred_at, details in (
        TimelineEvent.objects.filter(incident_id__in=incidents, kind=TimelineKind.IMPACT_CHANGE)
        .order_by("occurred_at", "id")
        .values_list("incident_id", "occurred_at", "details")
    ):
        service_id = details.get("service_id") if isinstance(details, dict) else None
        if service_id in wanted and details.get("to") in IMPACT_WEIGHT:
            changes[(service_id, incident_id)].append((occurred_at, details["to"]))
    for service_id, incident_id, impact in IncidentService.objects.filter(
        incident_id__in=incidents, service_id__in=service_ids
    ).values_list("service_id", "incident_id", "impact"):
        if (service_id, incident_id) not in changes:
            changes[(service_id, incident_id)].append((incidents[incident_id][0], impact))

    spans: dict[int, list[Span]] = defaultdict(list)
    for (service_id, incident_id), steps in changes.items():
        started, ended = incidents[incident_id]
        for (at, impact), following in zip(steps, [*steps[1:], (ended, "")], strict=True):
            start, end = max(at, started), min(following[0], ended)
            if end > start and impact != Impact.OPERATIONAL:
                spans[service_id].append((start, end, incident_id, impact))
    return spans


def component_uptime(service_ids: list[int], *, days: int = 90, now: datetime | None = None) -> dict[int, list[DayBar]]:
    """`days` bars per service, the last one being today (UTC days, today up to `now`)."""
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    first_day = today - timedelta(days=days - 1)
    window_start = datetime.combine(first_day, time.min, tzinfo=UTC)
    per_service = impact_spans(service_ids, since=window_start, now=now)

    out: dict[int, list[DayBar]] = {}
    for service_id in service_ids:
        spans = per_service.get(service_id, [])
        bars: list[DayBar] = []
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            day_start = datetime.combine(day, time.min, tzinfo=UTC)
            day_end = min(day_start + DAY, now) if day == today else day_start + DAY
            length = (day_end - day_start).total_seconds()
            clipped = [
                (max(start, day_start), min(end, day_end), incident_id, impact)
                for start, end, incident_id, impact in spans
                if start < day_end and end > day_start
            ]
            if not clipped or length <= 0:
                bars.append(DayBar(day, 100.0, Impact.OPERATIONAL, ()))
                continue
            down = _weighted_downtime([(s, e, IMPACT_WEIGHT[impact]) for s, e, _, impact in clipped])
            worst = max((impact for *_, impact in clipped), key=lambda i: IMPACT_RANK[Impact(i)])
            incidents = tuple(sorted({incident_id for _, _, incident_id, _ in clipped}))
            bars.append(DayBar(day, max(0.0, 100.0 * (1 - down / length)), worst, incidents))
        out[service_id] = bars
    return out


def overall_uptime(bars: list[DayBar]) -> float:
    return sum(b.uptime for b in bars) / len(bars) if bars else 100.0
