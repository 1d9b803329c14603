"""Test set-up shared by every app.

The suite runs on whatever DATABASE_URL / REDIS_URL say: SQLite and the embedded
Redis by default, PostgreSQL and a real Redis in CI. With no REDIS_URL, the
embedded Redis server is started for the session (and stopped after).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session", autouse=True)
def _redis_server() -> Iterator[None]:
    from portal import embedded_redis

    process = embedded_redis.ensure_running_for_settings()
    yield
    embedded_redis.stop(process)


@pytest.fixture(autouse=True)
def _clean_cache(_redis_server: None) -> Iterator[None]:
    from django.core.cache import cache

    from portal import redis_guard

    cache.clear()
    redis_guard.reset()  # an outage simulated by one test does not skip Redis in the next
    yield


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Iterator[None]:
    """Every test gets its own channel layer. channels_redis binds its receive
    locks to the event loop that first used them; each async test runs on a new
    loop, so a layer kept from an earlier test fails, or waits forever on a lock
    that a task of a closed loop still holds."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Thousands of test users: hash their passwords cheaply (tests only; the
    settings keep Django's strong default)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _status_snapshot_age_unchecked(settings: Any) -> None:
    """A status snapshot left on disk by `make run` or an earlier test may be hours
    old: readiness judges its age only in the tests about that (they set a limit)."""
    settings.PUBLIC_SNAPSHOT_STALE_SECONDS = 0


@pytest.fixture
def cast(db: Any) -> Any:
    """The fixed cast of users for permission tests."""
    from portal.tests.factories import Cast

    return Cast.create()


@pytest.fixture
def api(cast: Any) -> Any:
    from portal.tests.factories import ApiClientFactory

    return ApiClientFactory(cast)


@pytest.fixture
def seeded_transactional_db(transactional_db: Any) -> None:
    """A transactional database with the defaults migration 0002 seeds (severities,
    message templates, postmortem template) put back: the flush after every
    transactional test removes them. `serialized_rollback` is not an option: it
    collides with the content types that other transactional tests recreate."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("incidents.migrations.0002_timeline_append_only_and_defaults")
    migration.defaults(apps, None)
