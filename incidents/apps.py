from __future__ import annotations

from importlib import import_module

from django.apps import AppConfig

TASK_MODULES = (
    "incidents.integrations.tasks",
    "incidents.notify.tasks",
    "incidents.oncall.tasks",
    "incidents.public.tasks",
)


class IncidentsConfig(AppConfig):
    name = "incidents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Celery's autodiscovery finds incidents/tasks.py only: the sub-packages' task
        # modules are imported here to register their tasks with the worker. A task
        # module imports its services; the alert pipeline and the status snapshot
        # enqueue by task name and never import their task modules.
        for module in TASK_MODULES:
            import_module(module)

        # Subscriptions, each made once however often ready() runs.
        from incidents import live
        from incidents.integrations import severities
        from incidents.notify import subscribers
        from incidents.oncall import subscriber as oncall
        from incidents.public import rebuild

        live.connect()  # the war room and dashboard follow domain events
        severities.connect()  # deleting a severity a mapping names is refused
        subscribers.connect()  # status page subscribers hear public changes
        oncall.connect()  # paging and channels follow incident events
        rebuild.connect()  # the status snapshot rebuilds on public changes
