from __future__ import annotations

from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The status page's uptime bars read the probes' rollups through the
        # core's measured-uptime seam; the core never imports health.
        from health.uptime import measured_uptime
        from incidents.public.measured import register_source

        register_source(measured_uptime)
