"""Responder pages (login required): dashboard, war room, lists, maintenance, postmortems.

Views are thin: authorize, validate with a form, call an `incidents.services`
function, render. A `DomainError` from a service becomes a visible message with
the service's status code. htmx requests get the named partial of the page's
template; plain requests get the whole page, so every link and form also works
without JavaScript.
"""

from __future__ import annotations

from incidents.views.catalog import (
    maintenance,
    maintenance_status,
    service_detail,
    service_list,
)
from incidents.views.dashboard import (
    dashboard,
    incident_declare,
    incident_list,
)
from incidents.views.postmortems import (
    action_item_create,
    action_item_status,
    postmortem_edit,
    postmortem_list,
    postmortem_start,
    postmortem_status,
    postmortem_view,
)
from incidents.views.war_room import (
    incident_detail,
    incident_impact,
    incident_note,
    incident_pin,
    incident_public_update,
    incident_role,
    incident_severity,
    incident_status,
    incident_update_preview,
    incident_update_template,
    incident_visibility,
)

__all__ = [
    "action_item_create",
    "action_item_status",
    "dashboard",
    "incident_declare",
    "incident_detail",
    "incident_impact",
    "incident_list",
    "incident_note",
    "incident_pin",
    "incident_public_update",
    "incident_role",
    "incident_severity",
    "incident_status",
    "incident_update_preview",
    "incident_update_template",
    "incident_visibility",
    "maintenance",
    "maintenance_status",
    "postmortem_edit",
    "postmortem_list",
    "postmortem_start",
    "postmortem_status",
    "postmortem_view",
    "service_detail",
    "service_list",
]
