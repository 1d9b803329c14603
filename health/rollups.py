"""History: uptime and latency percentiles per probe, location and minute/hour/day.

A bucket is rebuilt whole (delete and insert in one transaction), so building it
twice gives the same rows. Minutes and hours are built from the raw results, exact;
a day from its hours: counts exact, percentiles the hours' percentiles weighted by
their result counts (an approximation; reading 10,000 probes' 2,880 daily results
each again would not be). The rollups stay after the raw results are pruned."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from health.models import Outcome, ProbeResult, ProbeRollup, RollupPeriod

LENGTH = {RollupPeriod.MINUTE: timedelta(minutes=1), RollupPeriod.HOUR: timedelta(hours=1), RollupPeriod.DAY: timedelta(days=1)}


def bucket_of(moment: datetime, period: str) -> datetime:
    moment = moment.replace(second=0, microsecond=0)
    if period in (RollupPeriod.HOUR, RollupPeriod.DAY):
        moment = moment.replace(minute=0)
    if period == RollupPeriod.DAY:
        moment = moment.replace(hour=0)
    return moment


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n * q)
    return round(ordered[int(rank) - 1], 3)


def _weighted(pairs: list[tuple[float | None, int]], q: float) -> float | None:
    points = sorted((value, weight) for value, weight in pairs if value is not None and weight)
    total = sum(weight for _value, weight in points)
    if not total:
        return None
    running = 0
    for value, weight in points:
        running += weight
        if running >= q * total:
            return value
    return points[-1][0]


def _build_day(start: datetime) -> int:
    groups: dict[tuple[int, int], list[ProbeRollup]] = defaultdict(list)
    for row in ProbeRollup.objects.filter(period=RollupPeriod.HOUR, bucket__gte=start, bucket__lt=start + LENGTH[RollupPeriod.DAY]):
        groups[(row.probe_id, row.location_id)].append(row)
    ProbeRollup.objects.filter(period=RollupPeriod.DAY, bucket=start).delete()
    built = [
        ProbeRollup(
            probe_id=probe_id, location_id=location_id, period=RollupPeriod.DAY, bucket=start,
            total=sum(h.total for h in hours), up=sum(h.up for h in hours), degraded=sum(h.degraded for h in hours),
            down=sum(h.down for h in hours), p50_ms=_weighted([(h.p50_ms, h.total) for h in hours], 0.5),
            p95_ms=_weighted([(h.p95_ms, h.total) for h in hours], 0.95), p99_ms=_weighted([(h.p99_ms, h.total) for h in hours], 0.99),
        )
        for (probe_id, location_id), hours in groups.items()
    ]  # fmt: skip
    ProbeRollup.objects.bulk_create(built, batch_size=2000)
    return len(built)


@transaction.atomic
def rollup_build(*, period: str, bucket: datetime) -> int:
    """(Re)build one bucket for every probe and location with results in it."""
    start = bucket_of(bucket, period)
    if period == RollupPeriod.DAY:
        return _build_day(start)
    end = start + LENGTH[RollupPeriod(period)]
    groups: dict[tuple[int, int], list[tuple[str, float | None]]] = defaultdict(list)
    rows = ProbeResult.objects.filter(started_at__gte=start, started_at__lt=end).values_list(
        "probe_id", "location_id", "outcome", "response_time_ms"
    )
    for probe_id, location_id, outcome, elapsed in rows.iterator(chunk_size=5000):
        groups[(probe_id, location_id)].append((outcome, elapsed))
    ProbeRollup.objects.filter(period=period, bucket=start).delete()
    built = []
    for (probe_id, location_id), results in groups.items():
        counts: defaultdict[str, int] = defaultdict(int)
        for outcome, _elapsed in results:
            counts[outcome] += 1
        latencies = sorted(e for o, e in results if e is not None and o != Outcome.NO_DATA)
        built.append(ProbeRollup(
            probe_id=probe_id, location_id=location_id, period=period, bucket=start, total=len(results),
            up=counts[Outcome.UP], degraded=counts[Outcome.DEGRADED], down=counts[Outcome.DOWN],
            p50_ms=percentile(latencies, 0.50), p95_ms=percentile(latencies, 0.95), p99_ms=percentile(latencies, 0.99),
        ))  # fmt: skip
    ProbeRollup.objects.bulk_create(built, batch_size=2000)
    return len(built)


def rollup_recent(*, now: datetime | None = None) -> dict[str, int]:
    """The last complete minute, and the last complete hour and day once each (a
    bucket is rebuilt only while it has no rows; building one again is harmless)."""
    now = now or timezone.now()
    out: dict[str, int] = {}
    for period in (RollupPeriod.MINUTE, RollupPeriod.HOUR, RollupPeriod.DAY):
        previous = bucket_of(now, period) - LENGTH[period]
        if period != RollupPeriod.MINUTE and ProbeRollup.objects.filter(period=period, bucket=previous).exists():
            continue
        out[str(period)] = rollup_build(period=period, bucket=previous)
    return out


def uptime(probe_id: int, *, since: datetime, period: str = RollupPeriod.HOUR) -> float | None:
    rows = ProbeRollup.objects.filter(probe_id=probe_id, period=period, bucket__gte=since).values_list("up", "degraded", "down")
    measured = sum(u + d + x for u, d, x in rows)
    return None if not measured else sum(u + d for u, d, _ in rows) / measured


def latency_svg(points: list[float | None], *, width: int = 240, height: int = 40) -> str:
    """A small server-rendered line chart (no script, no CDN)."""
    values = [p for p in points if p is not None]
    if len(values) < 2:
        return ""
    top = max(values) or 1.0
    step = width / max(len(points) - 1, 1)
    coords = " ".join(f"{i * step:.1f},{height - (p / top) * (height - 2) - 1:.1f}" for i, p in enumerate(points) if p is not None)
    return (f'<svg class="latency" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="latency, up to {top:.0f} ms"><polyline fill="none" stroke="currentColor" stroke-width="1.5" '
            f'points="{coords}"/></svg>')  # fmt: skip


# The status page's colours (static/public/status.css), and grey where nothing was measured.
BAR_FILL = {"operational": "#2f9e44", "degraded_performance": "#e8a400", "partial_outage": "#e8590c", "major_outage": "#d92d20"}
NO_DATA_FILL = "#ced4da"


def uptime_svg(days: list[tuple[date, float | None, str]]) -> str:
    """Daily uptime bars (day, percent or None, worst impact), oldest first; numbers only."""
    rects = "".join(
        f'<rect x="{i * 5}" width="4" height="24" fill="{BAR_FILL.get(worst, NO_DATA_FILL) if uptime is not None else NO_DATA_FILL}">'
        f"<title>{day:%b} {day.day} · {f'{uptime:.2f}%' if uptime is not None else 'no data'}</title></rect>"
        for i, (day, uptime, worst) in enumerate(days)
    )
    return (f'<svg class="uptime-bars" viewBox="0 0 {len(days) * 5} 24" preserveAspectRatio="none" width="100%" height="24" '
            f'role="img" aria-label="{len(days)}-day uptime from probes">{rects}</svg>')  # fmt: skip
