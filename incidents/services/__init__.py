"""Workflows that change incidents, maintenance windows and postmortems.

Every function is keyword-only, runs in one transaction, writes the timeline
event beside the rows it changes, and publishes after commit.
"""

from __future__ import annotations

from incidents.services.catalog import service_delete, severity_delete
from incidents.services.incidents import (
    ALLOWED_TRANSITIONS,
    incident_acknowledge,
    incident_add_note,
    incident_assign_role,
    incident_change_severity,
    incident_change_status,
    incident_change_visibility,
    incident_declare,
    incident_post_update,
    incident_record_event,
    incident_record_events,
    incident_set_impact,
    incident_update_details,
    timeline_set_pinned,
)
from incidents.services.maintenance import maintenance_change_status, maintenance_schedule, maintenance_update
from incidents.services.postmortems import (
    action_item_create,
    action_item_update,
    postmortem_change_status,
    postmortem_start,
    postmortem_update,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "action_item_create",
    "action_item_update",
    "incident_acknowledge",
    "incident_add_note",
    "incident_assign_role",
    "incident_change_severity",
    "incident_change_status",
    "incident_change_visibility",
    "incident_declare",
    "incident_post_update",
    "incident_record_event",
    "incident_record_events",
    "incident_set_impact",
    "incident_update_details",
    "maintenance_change_status",
    "maintenance_schedule",
    "maintenance_update",
    "postmortem_change_status",
    "postmortem_start",
    "postmortem_update",
    "service_delete",
    "severity_delete",
    "timeline_set_pinned",
]
