from __future__ import annotations

from django.urls import path

from health import observability_views, pages, views

app_name = "health"
urlpatterns = [
    path("live", views.live, name="live"),
    path("ready", views.ready, name="ready"),
    path("detailed", observability_views.detailed, name="detailed"),
    path("probes/", pages.probe_list, name="probes"),
    path("probes/new/", pages.probe_new, name="probe-new"),
    path("probes/<int:pk>/", pages.probe_detail, name="probe"),
    path("probes/<int:pk>/run/", pages.probe_run, name="probe-run"),
    path("probes/<int:pk>/delete/", pages.probe_delete, name="probe-delete"),
    path("services/<slug:slug>/probes/", pages.service_probes, name="service-probes"),
    path("heartbeat/<str:token>", pages.heartbeat, name="heartbeat"),
    path("heartbeat/<str:token>/<str:result>", pages.heartbeat, name="heartbeat-result"),
]
