"""Imported from IncidentsConfig.ready(): subscribes the snapshot rebuild to public
domain events, and registers its Celery task and periodic schedule."""

from __future__ import annotations

from incidents.public import rebuild, tasks  # noqa: F401
