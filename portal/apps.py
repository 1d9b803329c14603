from __future__ import annotations

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal: people, teams and API tokens"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from portal import checks, schema  # noqa: F401  (registers system checks and schema extensions)
