"""Daily uptime of services from the probes' rollups, for the status page's bars.

Registered with the incident core as a measured-uptime source
(`incidents.public.measured`, from `HealthConfig.ready`); the core never imports
this module. For each service and UTC day with measured results it answers the
share of the measured time at each impact, with the outcomes mapped as the
service's observed status maps them (down: major outage, degraded: degraded
performance). "No data" results are not measured time; a day with none left
keeps the timeline's figure.

Which rollups: a finished day reads its day rollup; a day without one (today, or
yesterday before its rollup is built) reads its hour rollups, and an hour without
one (the current hour) its minute rollups. All of a service's probes count, the
disabled ones too (their history is real).

Locations and probes: a probe is down where its quorum of locations agree, so of
its locations' shares the quorum-th worst counts (the worst with a quorum of 1,
the best when all must agree). This is exact when the locations saw the same
outage at the same time, which is what a quorum is for. A service counts its
worst probe.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

from health.effects import OBSERVED
from health.models import Outcome, Probe, ProbeRollup, RollupPeriod
from incidents.public.measured import MeasuredDay

Counts = tuple[int, int, int]  # up, degraded, down
Key = tuple[int, int]  # probe, location


def _add(a: Counts, b: Counts) -> Counts:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _shares(counts: Counts) -> MeasuredDay:
    up, degraded, down = counts
    measured = up + degraded + down
    return MeasuredDay(
        {OBSERVED[Outcome.DOWN]: down / measured, OBSERVED[Outcome.DEGRADED]: degraded / measured}
    )


def _rows(
    probe_ids: Iterable[int], period: str, since: datetime, until: datetime
) -> Iterable[tuple[int, int, datetime, int, int, int]]:
    # the rollup index (probe, period, bucket) answers each probe's range
    return (
        ProbeRollup.objects.filter(
            probe_id__in=list(probe_ids), period=period, bucket__gte=since, bucket__lt=until
        )
        .values_list("probe_id", "location_id", "bucket", "up", "degraded", "down")
        .iterator(chunk_size=5000)
    )


def daily_counts(probe_ids: list[int], *, first_day: date, now: datetime) -> dict[Key, dict[date, Counts]]:
    """Results per (probe, location) and UTC day from `first_day` to today (up to `now`)."""
    today = datetime.combine(_day(now), time.min, tzinfo=UTC)
    yesterday = today - timedelta(days=1)
    this_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    out: dict[Key, dict[date, Counts]] = defaultdict(dict)
    for probe_id, location_id, bucket, *counts in _rows(
        probe_ids, RollupPeriod.DAY, datetime.combine(first_day, time.min, tzinfo=UTC), today
    ):
        out[(probe_id, location_id)][_day(bucket)] = (counts[0], counts[1], counts[2])
    hours: dict[Key, dict[datetime, Counts]] = defaultdict(dict)
    for probe_id, location_id, bucket, *counts in _rows(probe_ids, RollupPeriod.HOUR, yesterday, now):
        hours[(probe_id, location_id)][bucket] = (counts[0], counts[1], counts[2])
    minutes: dict[Key, dict[datetime, Counts]] = defaultdict(dict)
    for probe_id, location_id, bucket, *counts in _rows(
        probe_ids, RollupPeriod.MINUTE, this_hour - timedelta(hours=1), now
    ):
        hour = bucket.replace(minute=0)
        if hour not in hours.get((probe_id, location_id), {}):
            minutes[(probe_id, location_id)][hour] = _add(
                minutes[(probe_id, location_id)].get(hour, (0, 0, 0)), (counts[0], counts[1], counts[2])
            )
    # days without a day rollup: their hours, and the minutes of hours without one
    partial: dict[Key, dict[date, Counts]] = defaultdict(dict)
    for source in (hours, minutes):
        for key, buckets in source.items():
            for moment, found in buckets.items():
                partial[key][_day(moment)] = _add(partial[key].get(_day(moment), (0, 0, 0)), found)
    for key, days in partial.items():
        for day, total in days.items():
            if day >= first_day and day not in out[key]:
                out[key][day] = total
    return dict(out)


def measured_uptime(
    service_ids: list[int], first_day: date, now: datetime
) -> dict[int, dict[date, MeasuredDay]]:
    """The measured-uptime source the status page asks (see the module's docstring)."""
    probes = {
        pk: (service_id, quorum)
        for pk, service_id, quorum in Probe.objects.filter(service_id__in=service_ids).values_list(
            "pk", "service_id", "quorum"
        )
    }
    if not probes:
        return {}
    per_probe: dict[tuple[int, date], list[MeasuredDay]] = defaultdict(list)
    for (probe_id, _location_id), days in daily_counts(list(probes), first_day=first_day, now=now).items():
        for day, counts in days.items():
            if sum(counts):
                per_probe[(probe_id, day)].append(_shares(counts))
    out: dict[int, dict[date, MeasuredDay]] = defaultdict(dict)
    for (probe_id, day), locations in per_probe.items():
        service_id, quorum = probes[probe_id]
        ranked = sorted(locations, key=lambda m: m.down, reverse=True)
        figure = ranked[min(quorum, len(ranked)) - 1]
        if day not in out[service_id] or figure.down > out[service_id][day].down:
            out[service_id][day] = figure
    return dict(out)


def service_days(service_id: int, *, days: int = 90, now: datetime | None = None) -> list[tuple[date, MeasuredDay | None]]:
    """The service page's bars: `days` UTC days up to today, None where nothing was measured."""
    now = now or timezone.now()
    first_day = _day(now) - timedelta(days=days - 1)
    measured = measured_uptime([service_id], first_day, now).get(service_id, {})
    return [(day, measured.get(day)) for day in (first_day + timedelta(days=i) for i in range(days))]
