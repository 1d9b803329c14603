"""Responder pages, mounted at the site root."""

from __future__ import annotations

from django.urls import path

from incidents import views
from incidents.views import postmortem_templates

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("incidents/", views.incident_list, name="incident-list"),
    path("incidents/declare/", views.incident_declare, name="incident-declare"),
    path("incidents/<str:ref>/", views.incident_detail, name="incident-detail"),
    path("incidents/<str:ref>/notes/", views.incident_note, name="incident-note"),
    path("incidents/<str:ref>/status/", views.incident_status, name="incident-status"),
    path("incidents/<str:ref>/severity/", views.incident_severity, name="incident-severity"),
    path("incidents/<str:ref>/roles/", views.incident_role, name="incident-role"),
    path("incidents/<str:ref>/impact/", views.incident_impact, name="incident-impact"),
    path("incidents/<str:ref>/visibility/", views.incident_visibility, name="incident-visibility"),
    path("incidents/<str:ref>/updates/", views.incident_public_update, name="incident-update"),
    path("incidents/<str:ref>/updates/template/", views.incident_update_template, name="incident-update-template"),
    path("incidents/<str:ref>/updates/preview/", views.incident_update_preview, name="incident-update-preview"),
    path("incidents/<str:ref>/events/<int:event_id>/pin/", views.incident_pin, name="incident-pin"),
    path("incidents/<str:ref>/postmortem/", views.postmortem_edit, name="postmortem-edit"),
    path("incidents/<str:ref>/postmortem/start/", views.postmortem_start, name="postmortem-start"),
    path("incidents/<str:ref>/postmortem/status/", views.postmortem_status, name="postmortem-status"),
    path("incidents/<str:ref>/postmortem/action-items/", views.action_item_create, name="action-item-create"),
    path("incidents/<str:ref>/postmortem/view/", views.postmortem_view, name="postmortem-view"),
    path("action-items/<int:pk>/status/", views.action_item_status, name="action-item-status"),
    path("postmortems/", views.postmortem_list, name="postmortem-list"),
    path("postmortems/templates/", postmortem_templates.postmortem_template_list, name="postmortem-templates"),
    path("postmortems/templates/new/", postmortem_templates.postmortem_template_edit, name="postmortem-template-new"),
    path("postmortems/templates/section/", postmortem_templates.postmortem_template_section, name="postmortem-template-section"),
    path("postmortems/templates/<int:pk>/", postmortem_templates.postmortem_template_edit, name="postmortem-template-edit"),
    path("postmortems/templates/<int:pk>/delete/", postmortem_templates.postmortem_template_delete, name="postmortem-template-delete"),
    path("services/", views.service_list, name="service-list"),
    path("services/<slug:slug>/", views.service_detail, name="service-detail"),
    path("maintenance/", views.maintenance, name="maintenance"),
    path("maintenance/<int:pk>/status/", views.maintenance_status, name="maintenance-status"),
]
