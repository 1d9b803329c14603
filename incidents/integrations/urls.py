"""Receivers (no session, no CSRF: each authenticates its sender), one set per
integration kind from its adapter, and the pages."""

from __future__ import annotations

from django.urls import path

from incidents.integrations import views
from incidents.integrations.pipeline import registry

app_name = "integrations"

urlpatterns = [
    *registry.urlpatterns(),
    path("", views.integration_list, name="list"),
    path("<int:pk>/", views.integration_detail, name="detail"),
    path("<int:pk>/rotate/", views.integration_rotate, name="rotate"),
    path("<int:pk>/sample/", views.integration_sample, name="sample"),
    path("<int:pk>/toggle/", views.integration_toggle, name="toggle"),
    path("<int:pk>/routing/", views.integration_routing, name="routing"),
    path("<int:pk>/routing/test/", views.integration_routing_test, name="routing-test"),
    path("<int:pk>/deliveries/<int:delivery_pk>/retry/", views.delivery_retry, name="delivery-retry"),
    path("alerts/", views.alert_list, name="alerts"),
    path("alerts/<int:pk>/", views.alert_detail, name="alert"),
]
