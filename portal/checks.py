from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def portal_settings_check(app_configs: Any, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    if settings.DB_VENDOR == "sqlite" and not settings.EMBEDDED_REDIS and not settings.DEBUG:
        problems.append(
            Warning(
                "REDIS_URL is set but DATABASE_URL is not: the portal runs on SQLite beside an external Redis.",
                hint="Set DATABASE_URL to PostgreSQL for a production topology.",
                id="portal.W001",
            )
        )
    if len({settings.REDIS_DB_BROKER, settings.REDIS_DB_CHANNELS, settings.REDIS_DB_CACHE}) != 3:
        problems.append(
            Error(
                "REDIS_DB_BROKER, REDIS_DB_CHANNELS and REDIS_DB_CACHE must name three different databases.",
                id="portal.E001",
            )
        )
    return problems
