from __future__ import annotations

from django.apps import AppConfig


class RunbooksConfig(AppConfig):
    name = "runbooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from runbooks import subscriber

        subscriber.connect()  # checklists start when an incident opens at their severity
