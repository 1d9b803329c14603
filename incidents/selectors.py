"""Reads for pages and the API: querysets with their eager loading declared once."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from incidents.models import (
    IMPACT_RANK,
    Impact,
    Incident,
    IncidentService,
    IncidentStatus,
    MaintenanceStatus,
    MaintenanceWindow,
    Postmortem,
    RoleAssignment,
    Service,
    TimelineEvent,
)


def incident_list_qs() -> QuerySet[Incident]:
    return Incident.objects.select_related("severity").prefetch_related(
        Prefetch("impacts", queryset=IncidentService.objects.select_related("service").order_by("service__display_order", "service__name")),
        Prefetch(
            "role_assignments",
            queryset=RoleAssignment.objects.filter(ended_at__isnull=True).select_related("user"),
            to_attr="current_roles",
        ),
        "tags",
    )


def incident_detail_qs() -> QuerySet[Incident]:
    return incident_list_qs()


def timeline_qs(incident_id: int) -> QuerySet[TimelineEvent]:
    return TimelineEvent.objects.filter(incident_id=incident_id).select_related("author")


def service_list_qs() -> QuerySet[Service]:
    return Service.objects.select_related("group", "team").prefetch_related("links", "depends_on")


def service_statuses(service_ids: list[int] | None = None) -> dict[int, str]:
    """Current status per service: the worst impact among open incidents, else
    under_maintenance during an in-progress window, else the observed status
    (health probes) when worse than operational, else operational."""
    impacts = IncidentService.objects.exclude(incident__status=IncidentStatus.RESOLVED)
    if service_ids is not None:
        impacts = impacts.filter(service_id__in=service_ids)
    status: dict[int, str] = {}
    for service_id, impact in impacts.values_list("service_id", "impact"):
        if IMPACT_RANK[Impact(impact)] > IMPACT_RANK[Impact(status.get(service_id, Impact.OPERATIONAL))]:
            status[service_id] = impact
    in_maintenance = MaintenanceWindow.services.through.objects.filter(
        maintenancewindow__status__in=[MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING]
    )
    if service_ids is not None:
        in_maintenance = in_maintenance.filter(service_id__in=service_ids)
    maintained = set(in_maintenance.values_list("service_id", flat=True))
    for service_id in maintained:
        status.setdefault(service_id, Impact.UNDER_MAINTENANCE)
    observed = Service.objects.exclude(observed_status__in=["", Impact.OPERATIONAL])
    if service_ids is not None:
        observed = observed.filter(pk__in=service_ids)
    for service_id, seen in observed.values_list("pk", "observed_status"):
        status[service_id] = observed_over(status.get(service_id, Impact.OPERATIONAL), seen, service_id in maintained)
    return status


def observed_over(current: str, observed: str, in_maintenance: bool) -> str:
    """One rule for the status page and the dashboards: an observed outage shows when
    it is worse than what incidents say, except during maintenance (expected)."""
    if in_maintenance or not observed or IMPACT_RANK[Impact(observed)] <= IMPACT_RANK[Impact(current)]:
        return current
    return observed


def maintenance_qs() -> QuerySet[MaintenanceWindow]:
    return MaintenanceWindow.objects.prefetch_related("services")


def postmortem_qs() -> QuerySet[Postmortem]:
    return Postmortem.objects.select_related("incident", "owner").prefetch_related("sections", "action_items__owner")


# --- the incident list as plain rows ------------------------------------------------------
# The list is the hottest read of the API. Building model instances for every
# incident, impact, service, role and user of a page cost more than the queries,
# so the list reads column values and assembles the output dicts directly. The
# output equals IncidentListSerializer's (a test compares the two).
INCIDENT_LIST_COLUMNS = (
    "id", "title", "status", "visibility", "started_at", "acknowledged_at", "resolved_at",
    "severity_id", "severity__name", "severity__rank", "severity__colour",
)  # fmt: skip


def incident_list_values() -> QuerySet[Incident]:
    return Incident.objects.values(*INCIDENT_LIST_COLUMNS)


def incident_list_rows(rows: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    from incidents.api.serializers import format_datetime

    ids = [row["id"] for row in rows]
    impacts: dict[int, list[dict[str, str]]] = {pk: [] for pk in ids}
    for incident_id, slug, name, impact in (
        IncidentService.objects.filter(incident_id__in=ids)
        .order_by("service__display_order", "service__name")
        .values_list("incident_id", "service__slug", "service__name", "impact")
    ):
        impacts[incident_id].append({"service": slug, "name": name, "impact": impact})
    commanders: dict[int, dict[str, object]] = {}
    for incident_id, user_id, username, first, last in RoleAssignment.objects.filter(
        incident_id__in=ids, ended_at__isnull=True, role="commander"
    ).values_list("incident_id", "user_id", "user__username", "user__first_name", "user__last_name"):
        commanders[incident_id] = {"id": user_id, "username": username, "name": f"{first} {last}".strip() or username}
    tags: dict[int, list[str]] = {pk: [] for pk in ids}
    for incident_id, name in Incident.tags.through.objects.filter(incident_id__in=ids).order_by("tag__name").values_list(
        "incident_id", "tag__name"
    ):
        tags[incident_id].append(name)
    return [
        {
            "id": row["id"],
            "reference": f"INC-{row['id']}",
            "title": row["title"],
            "status": row["status"],
            "severity": {
                "id": row["severity_id"], "name": row["severity__name"], "rank": row["severity__rank"],
                "colour": row["severity__colour"],
            },  # fmt: skip
            "visibility": row["visibility"],
            "started_at": format_datetime(row["started_at"]),
            "acknowledged_at": format_datetime(row["acknowledged_at"]),
            "resolved_at": format_datetime(row["resolved_at"]),
            "impacts": impacts[row["id"]],
            "commander": commanders.get(row["id"]),
            "tags": tags[row["id"]],
        }
        for row in rows
    ]
