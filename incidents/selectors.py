"""Reads for pages and the API: querysets with their eager loading declared once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import CharField, DateTimeField, F, IntegerField, Prefetch, QuerySet, Value

from incidents.models import (
    IMPACT_RANK,
    Impact,
    Incident,
    IncidentRole,
    IncidentService,
    IncidentStatus,
    MaintenanceStatus,
    MaintenanceWindow,
    Postmortem,
    PostmortemTemplate,
    RoleAssignment,
    Service,
    ServiceGroup,
    Severity,
    TimelineEvent,
)
from incidents.models.incident import IncidentQuerySet
from portal.fields import format_datetime


def incident_list_qs() -> IncidentQuerySet:
    return Incident.objects.select_related("severity").prefetch_related(
        Prefetch("impacts", queryset=IncidentService.objects.select_related("service").order_by("service__display_order", "service__name")),
        Prefetch(
            "role_assignments",
            # The model's ordering starts with "incident", a join to the incident
            # table; within one incident this is the same order without it.
            queryset=RoleAssignment.objects.filter(ended_at__isnull=True).select_related("user").order_by("role", "-started_at"),
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


# Maintenance windows in these states put their services under maintenance.
ACTIVE_MAINTENANCE = (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)


def worst_impact(impacts: Iterable[str]) -> str:
    return max(impacts, key=lambda i: IMPACT_RANK[Impact(i)], default=Impact.OPERATIONAL)


def derive_service_statuses(
    impacts: Iterable[tuple[int, str]], in_maintenance: Iterable[int], observed: Iterable[tuple[int, str]] = ()
) -> dict[int, str]:
    """The one rule for a service's current status, given the (service id, impact)
    rows of the open incidents and the ids of the services in an active window:
    the worst impact among open incidents, else under_maintenance, else
    operational (left out of the result); a status observed by health probes
    (service id, status) shows when worse, except during maintenance
    (`observed_over`). The responder pages and API feed it
    every incident and window; the status page only public ones."""
    by_service: dict[int, list[str]] = {}
    for service_id, impact in impacts:
        by_service.setdefault(service_id, []).append(impact)
    status = {sid: worst for sid, rows in by_service.items() if (worst := worst_impact(rows)) != Impact.OPERATIONAL}
    maintained: set[int] = set()
    for service_id in in_maintenance:
        status.setdefault(service_id, Impact.UNDER_MAINTENANCE)
        maintained.add(service_id)
    for service_id, seen in observed:
        worse = observed_over(status.get(service_id, Impact.OPERATIONAL), seen, service_id in maintained)
        if worse != Impact.OPERATIONAL:
            status[service_id] = worse
    return status


def observed_over(current: str, observed: str, in_maintenance: bool) -> str:
    """An observed outage shows when it is worse than what incidents say, except
    during maintenance (expected)."""
    if in_maintenance or not observed or IMPACT_RANK[Impact(observed)] <= IMPACT_RANK[Impact(current)]:
        return current
    return observed


def service_statuses(service_ids: list[int] | None = None) -> dict[int, str]:
    """Current status per service (derive_service_statuses), from every open
    incident, active maintenance window and observed status; operational services
    are left out."""
    impacts = IncidentService.objects.exclude(incident__status=IncidentStatus.RESOLVED)
    in_maintenance = MaintenanceWindow.services.through.objects.filter(maintenancewindow__status__in=ACTIVE_MAINTENANCE)
    observed = Service.objects.exclude(observed_status__in=["", Impact.OPERATIONAL])
    if service_ids is not None:
        impacts = impacts.filter(service_id__in=service_ids)
        in_maintenance = in_maintenance.filter(service_id__in=service_ids)
        observed = observed.filter(pk__in=service_ids)
    return derive_service_statuses(
        impacts.values_list("service_id", "impact"),
        in_maintenance.values_list("service_id", flat=True),
        observed.values_list("pk", "observed_status"),
    )


def service_board() -> list[dict[str, Any]]:
    """Services by group with their current status, for the dashboard and the
    service list: groups in order, the ungrouped last, empty groups left out."""
    statuses = service_statuses()
    groups: dict[int | None, dict[str, Any]] = {}
    for group in ServiceGroup.objects.all():
        groups[group.pk] = {"group": group, "services": []}
    ungrouped: dict[str, Any] = {"group": None, "services": []}
    for service in Service.objects.select_related("group"):
        status = statuses.get(service.pk, Impact.OPERATIONAL)
        row = {"service": service, "status": status, "label": Impact(status).label}
        groups.get(service.group_id, ungrouped)["services"].append(row)
    return [g for g in [*groups.values(), ungrouped] if g["services"]]


# --- response timers ------------------------------------------------------------------------


def duration_text(delta: timedelta) -> str:
    """A duration as responders read it: "1d 2h 5m", "45m", "0m"."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return " ".join(p for p in parts if p) or "0m"


def with_timers(incidents: list[Incident], now: datetime) -> list[Incident]:
    """Mark each incident's response timer for the pages: `response_breached`
    (Incident.response_target_breached, the rule the API uses too) and, once
    acknowledged, `response_text` (how long it took)."""
    for incident in incidents:
        incident.response_breached = incident.response_target_breached(now)  # type: ignore[attr-defined]
        if incident.acknowledged_at:
            incident.response_text = duration_text(incident.acknowledged_at - incident.started_at)  # type: ignore[attr-defined]
    return incidents


def open_by_severity(now: datetime) -> list[dict[str, Any]]:
    """Open incidents grouped under every severity, most severe first, with timers."""
    incidents = with_timers(list(incident_list_qs().open().order_by("severity__rank", "started_at")), now)
    groups = []
    for severity in Severity.objects.all():
        rows = [i for i in incidents if i.severity_id == severity.pk]
        groups.append({"severity": severity, "target": duration_text(severity.response_target), "incidents": rows})
    return groups


def maintenance_qs() -> QuerySet[MaintenanceWindow]:
    return MaintenanceWindow.objects.prefetch_related("services")


def postmortem_qs() -> QuerySet[Postmortem]:
    return Postmortem.objects.select_related("incident", "owner", "template").prefetch_related("sections", "action_items__owner")


def postmortem_template_qs() -> QuerySet[PostmortemTemplate]:
    """Templates as pickers and the API list them: the default first, then by name."""
    return PostmortemTemplate.objects.order_by("-is_default", "name")


# --- the incident list as plain rows ------------------------------------------------------
# The list is the hottest read of the API. Building model instances for every
# incident, impact, service, role and user of a page cost more than the queries,
# so the list reads column values and assembles the output dicts directly. The
# output equals IncidentListSerializer's (tests/test_serializer_equivalence.py).
INCIDENT_LIST_COLUMNS = (
    "id", "title", "status", "visibility", "started_at", "acknowledged_at", "resolved_at",
    "severity_id", "severity__name", "severity__rank", "severity__colour",
)  # fmt: skip


def incident_list_values() -> QuerySet[Incident, dict[str, Any]]:
    return Incident.objects.values(*INCIDENT_LIST_COLUMNS)


# What the list and the detail show of an incident's impacts, roles and tags, in
# one statement: three SELECTs of the same shape joined by UNION ALL and ordered
# by the database as the serializers' querysets are (services by display order
# and name, roles by role and newest first, tags by name). One round trip instead
# of three: on a busy machine each round trip waits for PostgreSQL's turn on a core.
_RELATED_COLUMNS = ("part", "incident_id", "num", "txt", "a", "b", "c", "n", "at")


def _related_rows(ids: list[int], *, roles: Iterable[str] | None) -> list[tuple[Any, ...]]:
    def text(value: str) -> Value:
        return Value(value, output_field=CharField())

    no_time = Value(None, output_field=DateTimeField())
    zero = Value(0, output_field=IntegerField())
    impacts = IncidentService.objects.filter(incident_id__in=ids).annotate(
        part=text("i"), num=F("service__display_order"), txt=F("service__name"), a=F("service__slug"), b=F("impact"),
        c=text(""), n=zero, at=no_time,
    )  # fmt: skip
    current = RoleAssignment.objects.filter(incident_id__in=ids, ended_at__isnull=True)
    if roles is not None:
        current = current.filter(role__in=list(roles))
    people = current.annotate(
        part=text("r"), num=zero, txt=F("role"), a=F("user__username"), b=F("user__first_name"), c=F("user__last_name"),
        n=F("user_id"), at=F("started_at"),
    )  # fmt: skip
    tags = Incident.tags.through.objects.filter(incident_id__in=ids).annotate(
        part=text("t"), num=zero, txt=F("tag__name"), a=text(""), b=text(""), c=text(""), n=zero, at=no_time
    )
    parts: list[QuerySet[Any, Any]] = [qs.order_by().values_list(*_RELATED_COLUMNS) for qs in (impacts, people, tags)]
    combined: QuerySet[Any, Any] = parts[0].union(parts[1], parts[2], all=True)
    return list(combined.order_by("part", "num", "txt", "-at"))


def _user_brief(user_id: int, username: str, first: str, last: str) -> dict[str, Any]:
    return {"id": user_id, "username": username, "name": f"{first} {last}".strip() or username}


def incident_related(ids: list[int], *, roles: Iterable[str] | None = None) -> dict[int, dict[str, list[Any]]]:
    """Per incident: "impacts", "roles" and "tags" as the API writes them.
    `roles` limits the roles read (the list needs only the commander)."""
    out: dict[int, dict[str, list[Any]]] = {pk: {"impacts": [], "roles": [], "tags": []} for pk in ids}
    for part, pk, _, txt, a, b, c, n, at in _related_rows(ids, roles=roles):
        if part == "i":
            out[pk]["impacts"].append({"service": a, "name": txt, "impact": b})
        elif part == "r":
            out[pk]["roles"].append({"role": txt, "user": _user_brief(n, a, b, c), "started_at": format_datetime(at)})
        else:
            out[pk]["tags"].append(txt)
    return out


def _commander(roles: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((r["user"] for r in roles if r["role"] == IncidentRole.COMMANDER), None)


def incident_list_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    related = incident_related([row["id"] for row in rows], roles=[IncidentRole.COMMANDER])
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
            "impacts": related[row["id"]]["impacts"],
            "commander": _commander(related[row["id"]]["roles"]),
            "tags": related[row["id"]]["tags"],
        }
        for row in rows
    ]


def incident_detail_data(pk: int) -> dict[str, Any] | None:
    """An incident as the API's detail shows it (IncidentDetailSerializer's output),
    in two statements; None when there is no such incident."""
    from incidents.services import ALLOWED_TRANSITIONS

    incident = Incident.objects.select_related("severity").filter(pk=pk).first()
    if incident is None:
        return None
    related = incident_related([pk])[pk]
    severity = incident.severity
    to_ack, to_resolve = incident.time_to_acknowledge, incident.time_to_resolve
    return {
        "id": incident.pk,
        "reference": incident.reference,
        "title": incident.title,
        "status": incident.status,
        "severity": {"id": severity.pk, "name": severity.name, "rank": severity.rank, "colour": severity.colour},
        "visibility": incident.visibility,
        "started_at": format_datetime(incident.started_at),
        "acknowledged_at": format_datetime(incident.acknowledged_at),
        "resolved_at": format_datetime(incident.resolved_at),
        "impacts": related["impacts"],
        "commander": _commander(related["roles"]),
        "tags": related["tags"],
        "summary": incident.summary,
        "identified_at": format_datetime(incident.identified_at),
        "mitigated_at": format_datetime(incident.mitigated_at),
        "roles": related["roles"],
        "response_due_at": format_datetime(incident.response_due_at),
        "response_target_breached": incident.response_target_breached(),
        "time_to_acknowledge_seconds": int(to_ack.total_seconds()) if to_ack is not None else None,
        "time_to_resolve_seconds": int(to_resolve.total_seconds()) if to_resolve is not None else None,
        "allowed_transitions": list(ALLOWED_TRANSITIONS[incident.status]),
        "created_at": format_datetime(incident.created_at),
        "updated_at": format_datetime(incident.updated_at),
    }
