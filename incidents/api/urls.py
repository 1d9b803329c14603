from __future__ import annotations

from rest_framework.routers import DefaultRouter

from incidents.api import views
from incidents.api.postmortem_templates import PostmortemTemplateViewSet

router = DefaultRouter(trailing_slash=True)
router.register("severities", views.SeverityViewSet, basename="severity")
router.register("service-groups", views.ServiceGroupViewSet, basename="service-group")
router.register("services", views.ServiceViewSet, basename="service")
router.register("message-templates", views.MessageTemplateViewSet, basename="message-template")
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("maintenance-windows", views.MaintenanceViewSet, basename="maintenance")
router.register("maintenance-recurrences", views.MaintenanceRecurrenceViewSet, basename="maintenance-recurrence")
router.register("postmortems", views.PostmortemViewSet, basename="postmortem")
router.register("postmortem-templates", PostmortemTemplateViewSet, basename="postmortem-template")
router.register("action-items", views.ActionItemViewSet, basename="action-item")

urlpatterns = router.urls
