from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from runbooks.api import views

router = DefaultRouter(trailing_slash=True)
router.register("runbooks", views.RunbookViewSet, basename="runbook")
router.register("runbook-runs", views.RunViewSet, basename="runbook-run")
router.register("runbook-steps", views.StepRunViewSet, basename="runbook-step")
router.register("runbook-clusters", views.ClusterViewSet, basename="runbook-cluster")
router.register("runbook-endpoints", views.HttpEndpointViewSet, basename="runbook-endpoint")
router.register("runbook-checklists", views.ChecklistViewSet, basename="runbook-checklist")

urlpatterns = [
    path("runbook-actions/", views.ActionListView.as_view(), name="runbook-actions"),
    *router.urls,
]
