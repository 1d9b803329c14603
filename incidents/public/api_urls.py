"""Statuspage-compatible public JSON, mounted at /api/v2/."""

from __future__ import annotations

from django.urls import path

from incidents.public import views

app_name = "public-api"

urlpatterns = [
    path("summary.json", views.serve, name="summary"),
    path("status.json", views.serve, name="status"),
    path("components.json", views.serve, name="components"),
    path("incidents.json", views.serve, name="incidents"),
    path("incidents/unresolved.json", views.serve, name="incidents-unresolved"),
    path("scheduled-maintenances.json", views.serve, name="scheduled-maintenances"),
    path("scheduled-maintenances/upcoming.json", views.serve, name="scheduled-maintenances-upcoming"),
    path("scheduled-maintenances/active.json", views.serve, name="scheduled-maintenances-active"),
]
