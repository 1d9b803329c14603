"""Receivers (no session, no CSRF: each authenticates its sender) and the pages."""

from __future__ import annotations

from django.urls import path

from incidents.integrations import views
from incidents.integrations.alertmanager.views import alertmanager_webhook
from incidents.integrations.generic.views import generic_webhook
from incidents.integrations.pagerduty import views as pagerduty

app_name = "integrations"

urlpatterns = [
    # receivers
    path("alertmanager/", alertmanager_webhook, name="alertmanager-auth"),
    path("alertmanager/<str:token>/", alertmanager_webhook, name="alertmanager"),
    path("pagerduty/v2/enqueue", pagerduty.enqueue, name="pagerduty-enqueue"),
    path("pagerduty/v3/<str:token>/", pagerduty.webhook_v3, name="pagerduty-v3"),
    path("generic/", generic_webhook, name="generic-auth"),
    path("generic/<str:token>/", generic_webhook, name="generic"),
    # pages
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
