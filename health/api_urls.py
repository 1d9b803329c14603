from __future__ import annotations

from rest_framework.routers import DefaultRouter

from health import api

router = DefaultRouter(trailing_slash=True)
router.register("probes", api.ProbeViewSet, basename="probe")

urlpatterns = router.urls
