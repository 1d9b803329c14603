"""Everything the public may see, read from the database in one place.

This is the visibility boundary: only public incidents, public services and
public maintenance windows are read, and of an incident only its title, status,
severity-derived impact, times, public impacts and posted public updates. Notes,
roles, summaries, internal services and internal incidents are never loaded, so
no template or JSON encoder further on can leak them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Max, Prefetch, Q
from django.utils import timezone

from incidents.models import (
    Impact,
    Incident,
    IncidentService,
    IncidentStatus,
    MaintenanceStatus,
    MaintenanceWindow,
    PublicUpdate,
    PublicUpdateComponent,
    Service,
    ServiceGroup,
    Visibility,
)
from incidents.public.measured import with_measured
from incidents.public.uptime import DayBar, component_uptime, overall_uptime
from incidents.selectors import ACTIVE_MAINTENANCE, derive_service_statuses, worst_impact

HISTORY_DAYS = 90
HISTORY_LIMIT = 500  # incident pages kept in the snapshot

# Statuspage's incident impact, from our severity rank (1 is the most severe).
RANK_IMPACT = {1: "critical", 2: "major", 3: "minor"}
INDICATOR_RANK = {"none": 0, "minor": 1, "major": 2, "critical": 3}
# A component's status as a page indicator, as Statuspage rolls them up.
COMPONENT_INDICATOR = {
    Impact.OPERATIONAL: "none",
    Impact.UNDER_MAINTENANCE: "none",
    Impact.DEGRADED_PERFORMANCE: "minor",
    Impact.PARTIAL_OUTAGE: "major",
    Impact.MAJOR_OUTAGE: "critical",
}
INDICATOR_DESCRIPTION = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
MAINTENANCE_DESCRIPTION = "Service Under Maintenance"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def incident_impact(incident: Incident) -> str:
    return RANK_IMPACT.get(incident.severity.rank, "none")


# What `public_incident_qs` and `_maintenance_qs` prefetch (`to_attr`), typed once.
def updates_of(incident: Incident) -> list[PublicUpdate]:
    """The incident's posted public updates, newest first."""
    return incident.updates  # type: ignore[attr-defined]


def impacts_of(incident: Incident) -> list[IncidentService]:
    """The incident's impacts on public services, in display order."""
    return incident.public_impacts  # type: ignore[attr-defined]


def components_of(update: PublicUpdate) -> list[PublicUpdateComponent]:
    """The public components an update names."""
    return update.public_components  # type: ignore[attr-defined]


def services_of(window: MaintenanceWindow) -> list[Service]:
    """The window's public services."""
    return window.public_services  # type: ignore[attr-defined]


def public_status(incident: Incident) -> str:
    """The status the public sees: the one its latest public update set, as on
    Statuspage, where the status is set with the update (`updates` is prefetched
    newest first). Investigating until the first update. An incident that is over
    is Resolved whatever its last update said: resolving a public incident posts
    an update anyway (incident_change_status), so this only covers older rows."""
    if incident.status == IncidentStatus.RESOLVED:
        return IncidentStatus.RESOLVED
    updates = updates_of(incident)
    return updates[0].status if updates else IncidentStatus.INVESTIGATING


def with_public_fields(incident: Incident) -> Incident:
    """What the public templates read of an incident besides its own fields."""
    incident.public_impact = incident_impact(incident)  # type: ignore[attr-defined]
    incident.public_status = public_status(incident)  # type: ignore[attr-defined]
    incident.public_status_label = IncidentStatus(incident.public_status).label  # type: ignore[attr-defined]
    return incident


def incident_public_updated_at(incident: Incident) -> datetime:
    """When the public last saw this incident change. Not `updated_at`: that moves
    with internal notes and role changes too, and its timing is not public."""
    stamps = [incident.started_at, incident.identified_at, incident.mitigated_at, incident.resolved_at]
    stamps += [u.updated_at for u in updates_of(incident)]
    return max(s for s in stamps if s is not None)


@dataclass
class Component:
    service: Service
    status: str
    bars: list[DayBar]

    @property
    def uptime(self) -> float:
        return overall_uptime(self.bars)

    @property
    def status_label(self) -> str:
        return Impact(self.status).label

    @property
    def bars_svg(self) -> str:
        # Built here rather than in a template loop: 90 bars per component made
        # the template the slowest part of a rebuild. Dates and numbers only.
        rects = "".join(
            f'<rect x="{i * 5}" width="4" height="28" class="u-{b.worst}"><title>{b.day:%b} {b.day.day} · {b.uptime:.2f}%</title></rect>'
            for i, b in enumerate(self.bars)
        )
        return (
            f'<svg class="bars" viewBox="0 0 {len(self.bars) * 5} 28" preserveAspectRatio="none" role="img"'
            f' aria-label="90-day uptime {self.uptime:.2f}%">{rects}</svg>'
        )


@dataclass
class Group:
    group: ServiceGroup | None
    components: list[Component]

    @property
    def status(self) -> str:
        return worst_impact(c.status for c in self.components)

    @property
    def status_label(self) -> str:
        return Impact(self.status).label


@dataclass
class PublicData:
    now: datetime
    updated_at: datetime
    groups: list[Group]
    components: list[Component]
    active_incidents: list[Incident]
    history: list[Incident]
    maintenance_active: list[MaintenanceWindow]
    maintenance_upcoming: list[MaintenanceWindow]
    maintenance_all: list[MaintenanceWindow]
    indicator: str
    description: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def public_service_ids(self) -> set[int]:
        return {c.service.pk for c in self.components}


def public_incident_qs() -> Any:
    public_components = PublicUpdateComponent.objects.filter(service__visibility=Visibility.PUBLIC).select_related("service")
    return (
        Incident.objects.public()
        .select_related("severity")
        .prefetch_related(
            Prefetch(
                "impacts",
                queryset=IncidentService.objects.filter(service__visibility=Visibility.PUBLIC)
                .select_related("service", "service__group")
                .order_by("service__display_order", "service__name"),
                to_attr="public_impacts",
            ),
            Prefetch(
                "public_updates",
                queryset=PublicUpdate.objects.order_by("-display_at", "-id").prefetch_related(
                    Prefetch("components", queryset=public_components, to_attr="public_components")
                ),
                to_attr="updates",
            ),
        )
    )


def _maintenance_qs() -> Any:
    return MaintenanceWindow.objects.filter(visibility=Visibility.PUBLIC).prefetch_related(
        Prefetch("services", queryset=Service.objects.filter(visibility=Visibility.PUBLIC).select_related("group"), to_attr="public_services")
    )


def _component_statuses(services: list[Service], active: list[Incident], maintenance: list[MaintenanceWindow]) -> dict[int, str]:
    """selectors.derive_service_statuses from public incidents and windows only:
    an internal incident on a public service must not show on the status page.
    What health probes observe on a public service shows as it does to responders."""
    derived = derive_service_statuses(
        ((row.service_id, row.impact) for incident in active for row in impacts_of(incident)),
        (service.pk for window in maintenance for service in services_of(window)),
        ((service.pk, service.observed_status) for service in services),
    )
    return {service.pk: derived.get(service.pk, Impact.OPERATIONAL) for service in services}


def load_public_data(*, now: datetime | None = None) -> PublicData:
    now = now or timezone.now()
    services = list(Service.objects.filter(visibility=Visibility.PUBLIC).select_related("group").order_by("display_order", "name"))
    ids = [s.pk for s in services]

    active = list(public_incident_qs().exclude(status=IncidentStatus.RESOLVED).order_by("-started_at", "-id"))
    history = list(
        public_incident_qs()
        .filter(Q(started_at__gte=now - timedelta(days=HISTORY_DAYS)) | ~Q(status=IncidentStatus.RESOLVED))
        .order_by("-started_at", "-id")[:HISTORY_LIMIT]
    )
    maintenance_all = list(_maintenance_qs().order_by("-scheduled_start", "-id")[:50])
    maintenance_active = list(_maintenance_qs().filter(status__in=ACTIVE_MAINTENANCE).order_by("scheduled_start", "id"))
    maintenance_upcoming = list(
        _maintenance_qs().filter(status=MaintenanceStatus.SCHEDULED, scheduled_end__gt=now).order_by("scheduled_start", "id")
    )

    for incident in [*active, *history]:
        with_public_fields(incident)
    statuses = _component_statuses(services, active, maintenance_active)
    bars = with_measured(component_uptime(ids, days=HISTORY_DAYS, now=now), now=now)  # probes' days from their rollups
    components = [Component(s, statuses[s.pk], bars[s.pk]) for s in services]

    groups: list[Group] = []
    by_group: dict[int | None, Group] = {}
    for component in components:
        key = component.service.group_id
        if key not in by_group:
            by_group[key] = Group(component.service.group, [])
            groups.append(by_group[key])
        by_group[key].components.append(component)
    # Ungrouped components first, then groups in their display order.
    groups.sort(key=lambda g: (g.group is not None, g.group.display_order if g.group else 0, g.group.name if g.group else ""))

    indicator = "none"
    for component in components:
        if INDICATOR_RANK[COMPONENT_INDICATOR[Impact(component.status)]] > INDICATOR_RANK[indicator]:
            indicator = COMPONENT_INDICATOR[Impact(component.status)]
    for incident in active:
        if INDICATOR_RANK[incident_impact(incident)] > INDICATOR_RANK[indicator]:
            indicator = incident_impact(incident)
    description = INDICATOR_DESCRIPTION[indicator]
    if indicator == "none" and any(c.status == Impact.UNDER_MAINTENANCE for c in components):
        description = MAINTENANCE_DESCRIPTION

    # The page's own "last changed" time, not the build time: a rebuild with no
    # public change yields identical bytes, hence the same ETags and no push.
    stamps = [
        Service.objects.filter(visibility=Visibility.PUBLIC).aggregate(m=Max("updated_at"))["m"],
        ServiceGroup.objects.aggregate(m=Max("updated_at"))["m"],
        *(incident_public_updated_at(i) for i in history),
        *(w.updated_at for w in maintenance_all),
    ]
    updated_at = max((s for s in stamps if s is not None), default=EPOCH)
    return PublicData(
        now=now,
        updated_at=updated_at,
        groups=groups,
        components=components,
        active_incidents=active,
        history=history,
        maintenance_active=maintenance_active,
        maintenance_upcoming=maintenance_upcoming,
        maintenance_all=maintenance_all,
        indicator=indicator,
        description=description,
    )
