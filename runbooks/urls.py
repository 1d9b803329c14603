from __future__ import annotations

from django.urls import path

from runbooks import views

app_name = "runbooks"

urlpatterns = [
    path("", views.library, name="library"),
    path("import/", views.import_page, name="import"),
    path("new/", views.runbook_edit, name="new"),
    path("<int:pk>/edit/", views.runbook_edit, name="edit"),
    path("<int:pk>/", views.runbook_detail, name="detail"),
    path("<int:pk>/run/", views.run_start, name="start"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="cancel"),
    path("steps/<int:pk>/<str:verb>/", views.step_act, name="step"),
    path("incidents/<int:incident_id>/panel/", views.incident_panel, name="incident-panel"),
]
