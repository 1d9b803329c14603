from __future__ import annotations

from incidents.models.catalog import Service, ServiceDependency, ServiceGroup, ServiceLink, Severity, Tag
from incidents.models.choices import (
    IMPACT_RANK,
    Impact,
    IncidentRole,
    IncidentStatus,
    MaintenanceStatus,
    Visibility,
)
from incidents.models.incident import (
    Incident,
    IncidentService,
    PublicUpdate,
    PublicUpdateComponent,
    RoleAssignment,
    TimelineEvent,
    TimelineKind,
)
from incidents.models.maintenance import MaintenanceWindow
from incidents.models.messaging import MessageTemplate, MessageTemplateKind
from incidents.models.postmortem import (
    ActionItem,
    ActionItemPriority,
    ActionItemStatus,
    Postmortem,
    PostmortemSection,
    PostmortemStatus,
    PostmortemTemplate,
)

__all__ = [
    "IMPACT_RANK",
    "ActionItem",
    "ActionItemPriority",
    "ActionItemStatus",
    "Impact",
    "Incident",
    "IncidentRole",
    "IncidentService",
    "IncidentStatus",
    "MaintenanceStatus",
    "MaintenanceWindow",
    "MessageTemplate",
    "MessageTemplateKind",
    "Postmortem",
    "PostmortemSection",
    "PostmortemStatus",
    "PostmortemTemplate",
    "PublicUpdate",
    "PublicUpdateComponent",
    "RoleAssignment",
    "Service",
    "ServiceDependency",
    "ServiceGroup",
    "ServiceLink",
    "Severity",
    "Tag",
    "TimelineEvent",
    "TimelineKind",
    "Visibility",
]
