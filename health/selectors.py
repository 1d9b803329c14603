"""Reads of the health app for pages and the API."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from health.models import Location, Probe, ProbeResult, ProbeState


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
