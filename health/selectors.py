"""Reads of the health app for pages and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.safestring import mark_safe

from health import rollups, uptime
from health.models import Location, Probe, ProbeResult, ProbeRollup, ProbeState, RollupPeriod


def probe_list_qs(*, q: str = "", kind: str = "", status: str = "", service: str = "", enabled: bool | None = None) -> QuerySet[Probe]:
    """The probes list: filtered in SQL, newest first, with what each row shows loaded
    in two extra queries whatever the page size."""
    rows = Probe.objects.select_related("service", "severity").prefetch_related(
        Prefetch("locations", queryset=Location.objects.only("id", "name")),
        Prefetch("states", queryset=ProbeState.objects.select_related("location").only(
            "id", "probe_id", "status", "last_result_at", "location__name")),
    )  # fmt: skip
    if q:
        rows = rows.filter(Q(name__icontains=q) | Q(service__name__icontains=q) | Q(service__slug__icontains=q))
    if kind:
        rows = rows.filter(kind=kind)
    if status:
        rows = rows.filter(status=status)
    if service:
        rows = rows.filter(service__slug=service)
    if enabled is not None:
        rows = rows.filter(enabled=enabled)
    return rows.order_by("-id")


@dataclass
class ProbePage:
    """One page of the probes list, by keyset (ids below `after`, or above `before`):
    a late page costs what the first does, where an OFFSET reads every row before it."""

    rows: list[Probe]
    count: int
    newer: int | None  # `before` for the newer page, None on the first
    older: int | None  # `after` for the older page, None on the last


# What a row of the list shows; never the target, conditions or credentials.
LIST_FIELDS = ("id", "name", "kind", "status", "enabled", "interval_seconds", "policy", "service__slug", "service__name",
               "severity__name")  # fmt: skip


def probe_list_page(
    *, filters: dict[str, str], after: int | None = None, before: int | None = None, size: int = 50
) -> ProbePage:
    """The probes list page in five queries whatever the page: the count, the rows,
    and their locations and states (two prefetches)."""
    get = filters.get
    rows = probe_list_qs(q=get("q", ""), kind=get("kind", ""), status=get("status", ""), service=get("service", ""))
    count = rows.count()
    rows = rows.only(*LIST_FIELDS)
    if before is not None:
        found = list(rows.filter(id__gt=before).order_by("id")[: size + 1])
        more_newer = len(found) > size
        page = list(reversed(found[:size]))
        return ProbePage(page, count, page[0].pk if more_newer and page else None, page[-1].pk if page else None)
    if after is not None:
        rows = rows.filter(id__lt=after)
    found = list(rows[: size + 1])
    page = found[:size]
    return ProbePage(page, count, page[0].pk if after is not None and page else None, page[-1].pk if len(found) > size else None)


def probe_detail_qs() -> QuerySet[Probe]:
    return probe_list_qs().select_related("heartbeat")


def results_qs(probe_id: int, *, location: str = "") -> QuerySet[ProbeResult]:
    rows = ProbeResult.objects.filter(probe_id=probe_id).select_related("location")
    if location:
        rows = rows.filter(location__name=location)
    return rows


def service_probes(service_id: int) -> list[Probe]:
    return list(probe_list_qs().filter(service_id=service_id).order_by("name", "id"))


def latest_results(probe: Probe, *, limit: int = 20) -> list[ProbeResult]:
    return list(results_qs(probe.pk).order_by("-started_at")[:limit])


def credentials_set(probe: Probe) -> list[str]:
    """Which credentials a probe holds, never their values."""
    return sorted(key for key, value in (probe.credentials or {}).items() if value not in (None, "", {}))


def state_rows(probe: Probe) -> list[dict[str, Any]]:
    by_location = {s.location.name: s for s in probe.states.all()}
    return [
        {"location": loc.name, "status": by_location[loc.name].status if loc.name in by_location else "pending",
         "last_result_at": by_location[loc.name].last_result_at if loc.name in by_location else None}
        for loc in probe.locations.all()
    ]  # fmt: skip


def rollups_qs(probe_id: int, *, period: str, location: str = "") -> QuerySet[ProbeRollup]:
    rows = ProbeRollup.objects.filter(probe_id=probe_id, period=period).select_related("location")
    if location:
        rows = rows.filter(location__name=location)
    return rows


def service_uptime(service_id: int, *, days: int = 90) -> dict[str, Any]:
    """The service page's daily bars from its probes' rollups, as the status page counts them."""
    measured = uptime.service_days(service_id, days=days)
    bars = [(day, None if m is None else 100.0 * (1.0 - m.down), "" if m is None else m.worst) for day, m in measured]
    figures = [percent for _day, percent, _worst in bars if percent is not None]
    return {
        "uptime_bars": mark_safe(rollups.uptime_svg(bars)),  # noqa: S308 - built from numbers only
        "uptime_days": len(figures),
        "uptime_overall": sum(figures) / len(figures) if figures else None,
    }


def history(probe: Probe) -> dict[str, Any]:
    """Uptime over 24 hours and a p95 latency line over the last 24 hours (hourly), or
    the last hour (per minute) for a young probe, from the rollups."""
    now = timezone.now()
    hours = list(ProbeRollup.objects.filter(probe=probe, period=RollupPeriod.HOUR, bucket__gte=now - timedelta(hours=24))
                 .order_by("bucket").values_list("bucket", "p95_ms", "up", "degraded", "down"))  # fmt: skip
    period = RollupPeriod.HOUR
    if len(hours) < 2:
        hours = list(ProbeRollup.objects.filter(probe=probe, period=RollupPeriod.MINUTE, bucket__gte=now - timedelta(hours=1))
                     .order_by("bucket").values_list("bucket", "p95_ms", "up", "degraded", "down"))  # fmt: skip
        period = RollupPeriod.MINUTE
    measured = sum(u + d + x for _b, _p, u, d, x in hours)
    uptime = None if not measured else 100 * sum(u + d for _b, _p, u, d, _x in hours) / measured
    return {"uptime": uptime, "latency_svg": mark_safe(rollups.latency_svg([p for _b, p, *_ in hours])), "history_period": period}  # noqa: S308 - built from numbers only
