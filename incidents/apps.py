from __future__ import annotations

from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from incidents import live  # noqa: F401  (subscribes the live pages to domain events)
        from incidents.integrations import severities as _severities  # noqa: F401  (refuses deleting a mapped severity)
        from incidents.integrations import tasks as _alert_tasks  # noqa: F401  (registers the alert tasks with Celery)
        from incidents.notify import subscribers as _subscribers  # noqa: F401  (status page subscribers hear public changes)
        from incidents.notify import tasks as _notify_tasks  # noqa: F401
        from incidents.oncall import subscriber as _oncall  # noqa: F401  (paging and channels follow incident events)
        from incidents.oncall import tasks as _oncall_tasks  # noqa: F401
        from incidents.public import subscriber as _public  # noqa: F401  (status snapshot rebuilds on public changes)
