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
    under_maintenance during an in-progress window, else operational."""
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
    for service_id in in_maintenance.values_list("service_id", flat=True):
        status.setdefault(service_id, Impact.UNDER_MAINTENANCE)
    return status


def maintenance_qs() -> QuerySet[MaintenanceWindow]:
    return MaintenanceWindow.objects.prefetch_related("services")


def postmortem_qs() -> QuerySet[Postmortem]:
    return Postmortem.objects.select_related("incident", "owner").prefetch_related("sections", "action_items__owner")
