"""Atlassian Statuspage's public v2 API shapes (`/api/v2/*.json`), from PublicData.

Field names, nesting and enums follow Statuspage so that its existing clients and
widgets work unchanged: component status operational|degraded_performance|
partial_outage|major_outage|under_maintenance; incident status investigating|
identified|monitoring|resolved|postmortem; incident impact and page indicator
none|minor|major|critical; maintenance status scheduled|in_progress|verifying|
completed with impact "maintenance", as Statuspage reports them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse

from incidents.models import Incident, IncidentStatus, MaintenanceWindow, Service, ServiceGroup
from incidents.public.data import (
    Component,
    PublicData,
    components_of,
    impacts_of,
    incident_impact,
    incident_public_updated_at,
    public_status,
    services_of,
    updates_of,
)

JsonDict = dict[str, Any]


def ts(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else None


def page_id() -> str:
    # Stable per deployment and opaque, like Statuspage's 12-character ids.
    return hashlib.sha1(settings.PUBLIC_URL.encode()).hexdigest()[:12]


def component_id(service: Service) -> str:
    return f"s{service.pk}"


def group_id(group: ServiceGroup) -> str:
    return f"g{group.pk}"


def page(data: PublicData) -> JsonDict:
    return {
        "id": page_id(),
        "name": settings.SITE_NAME,
        "url": settings.PUBLIC_URL + reverse("public:status"),
        "time_zone": settings.TIME_ZONE,
        "updated_at": ts(data.updated_at),
    }


def status(data: PublicData) -> JsonDict:
    return {"indicator": data.indicator, "description": data.description}


def _component(service: Service, status_value: str, position: int) -> JsonDict:
    return {
        "id": component_id(service),
        "name": service.name,
        "status": status_value,
        "created_at": ts(service.created_at),
        "updated_at": ts(service.updated_at),
        "position": position,
        "description": service.description or None,
        "showcase": True,
        "start_date": service.created_at.date().isoformat(),
        "group_id": group_id(service.group) if service.group is not None else None,
        "page_id": page_id(),
        "group": False,
        "only_show_if_degraded": False,
    }


def components(data: PublicData) -> list[JsonDict]:
    """Groups and components in page order, each group followed by its members,
    positions counted within the group as Statuspage does."""
    out: list[JsonDict] = []
    position = 0
    for group in data.groups:
        if group.group is not None:
            position += 1
            g = group.group
            out.append(
                {
                    "id": group_id(g),
                    "name": g.name,
                    "status": group.status,
                    "created_at": ts(g.created_at),
                    "updated_at": ts(g.updated_at),
                    "position": position,
                    "description": g.description or None,
                    "showcase": False,
                    "start_date": None,
                    "group_id": None,
                    "page_id": page_id(),
                    "group": True,
                    "only_show_if_degraded": False,
                    "components": [component_id(c.service) for c in group.components],
                }
            )
            for member_position, component in enumerate(group.components, start=1):
                out.append(_component(component.service, component.status, member_position))
        else:
            for component in group.components:
                position += 1
                out.append(_component(component.service, component.status, position))
    return out


def _component_lookup(data: PublicData) -> dict[int, Component]:
    return {c.service.pk: c for c in data.components}


def incident(data: PublicData, item: Incident) -> JsonDict:
    lookup = _component_lookup(data)
    iid = str(item.pk)
    updates = []
    for update in updates_of(item):
        affected = [
            {"code": component_id(c.service), "name": c.service.name, "old_status": c.old_status, "new_status": c.new_status}
            for c in components_of(update)
        ]
        updates.append(
            {
                "id": f"u{update.pk}",
                "status": update.status,
                "body": update.body,
                "incident_id": iid,
                "created_at": ts(update.created_at),
                "updated_at": ts(update.updated_at),
                "display_at": ts(update.display_at),
                "affected_components": affected or None,
                "deliver_notifications": True,
                "custom_tweet": None,
                "tweet_id": None,
            }
        )
    affected_components = []
    for position, row in enumerate(impacts_of(item), start=1):
        current = lookup.get(row.service_id)
        affected_components.append(_component(row.service, current.status if current else row.impact, position))
    status = public_status(item)  # the latest public update's, as the page shows it
    monitoring_at = item.mitigated_at if status in (IncidentStatus.MONITORING, IncidentStatus.RESOLVED) else None
    return {
        "id": iid,
        "name": item.title,
        "status": status,
        "created_at": ts(item.started_at),
        "updated_at": ts(incident_public_updated_at(item)),
        "monitoring_at": ts(monitoring_at),
        "resolved_at": ts(item.resolved_at if status == IncidentStatus.RESOLVED else None),
        "impact": incident_impact(item),
        "shortlink": settings.PUBLIC_URL + reverse("public:incident", args=[item.pk]),
        "started_at": ts(item.started_at),
        "page_id": page_id(),
        "incident_updates": updates,
        "components": affected_components,
    }


def maintenance(data: PublicData, window: MaintenanceWindow) -> JsonDict:
    mid = f"m{window.pk}"
    # Maintenance windows carry no separate update rows: the announcement (and its
    # current status) is the one update Statuspage clients expect to find.
    body = window.description or window.title
    update = {
        "id": f"{mid}-{window.status}",
        "status": window.status,
        "body": body,
        "incident_id": mid,
        "created_at": ts(window.created_at),
        "updated_at": ts(window.updated_at),
        "display_at": ts(window.started_at or window.created_at),
        "affected_components": [
            {"code": component_id(s), "name": s.name, "old_status": "operational", "new_status": "under_maintenance"}
            for s in services_of(window)
        ]
        or None,
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }
    lookup = _component_lookup(data)
    return {
        "id": mid,
        "name": window.title,
        "status": window.status,
        "created_at": ts(window.created_at),
        "updated_at": ts(window.updated_at),
        "monitoring_at": None,
        "resolved_at": ts(window.completed_at),
        "impact": "maintenance",
        "shortlink": settings.PUBLIC_URL + reverse("public:status") + f"#maintenance-{window.pk}",
        "started_at": ts(window.started_at or window.scheduled_start),
        "page_id": page_id(),
        "incident_updates": [update],
        "components": [
            _component(s, lookup[s.pk].status if s.pk in lookup else "under_maintenance", position)
            for position, s in enumerate(services_of(window), start=1)
        ],
        "scheduled_for": ts(window.scheduled_start),
        "scheduled_until": ts(window.scheduled_end),
    }


DOCUMENTS = (
    "summary",
    "status",
    "components",
    "incidents",
    "incidents-unresolved",
    "scheduled-maintenances",
    "scheduled-maintenances-upcoming",
    "scheduled-maintenances-active",
)


def documents(data: PublicData) -> dict[str, JsonDict]:
    """Every /api/v2 document, keyed by its URL name."""
    p = page(data)
    comps = components(data)
    active = [incident(data, i) for i in data.active_incidents]
    recent = [incident(data, i) for i in data.history[:50]]
    active_maintenance = [maintenance(data, w) for w in data.maintenance_active]
    upcoming = [maintenance(data, w) for w in data.maintenance_upcoming]
    return {
        "summary": {
            "page": p,
            "components": comps,
            "incidents": active,
            "scheduled_maintenances": active_maintenance + upcoming,
            "status": status(data),
        },
        "status": {"page": p, "status": status(data)},
        "components": {"page": p, "components": comps},
        "incidents": {"page": p, "incidents": recent},
        "incidents-unresolved": {"page": p, "incidents": active},
        "scheduled-maintenances": {"page": p, "scheduled_maintenances": [maintenance(data, w) for w in data.maintenance_all]},
        "scheduled-maintenances-upcoming": {"page": p, "scheduled_maintenances": upcoming},
        "scheduled-maintenances-active": {"page": p, "scheduled_maintenances": active_maintenance},
    }
