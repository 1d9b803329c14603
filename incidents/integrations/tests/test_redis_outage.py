"""With Redis gone (nothing listening, or a server that accepts and never answers)
a webhook is still stored and answered at once; once Redis is back the beat
sweeper queues it and a worker processes it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from incidents.integrations import tasks
from incidents.integrations.tests.helpers import fixture, make, post_json
from incidents.models import Delivery, DeliveryStatus, Incident, IntegrationKind
from portal import redis_guard
from portal.celery import app as celery_app


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """A port that accepts connections and never answers (the kernel completes
    the handshake; nothing ever reads or replies)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(256)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}"


@pytest.fixture
def dead_redis() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}"  # bound once, now closed: connections are refused


def outage(settings: Any, url: str) -> tuple[str, str]:
    """Point the broker and the cache at `url`; returns what to put back."""
    broker, cache = celery_app.conf.broker_url, settings.CACHES["default"]["LOCATION"]
    celery_app.conf.broker_url = f"{url}/0"
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": f"{url}/2"}}
    redis_guard.reset()
    return broker, cache


def restore(settings: Any, saved: tuple[str, str]) -> None:
    celery_app.conf.broker_url = saved[0]
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": saved[1]}}
    redis_guard.reset()


@pytest.mark.parametrize("redis_down", ["silent_redis", "dead_redis"])
def test_a_delivery_received_while_redis_is_down_is_answered_fast_stored_and_swept_later(
    client: Any, settings: Any, seeded_transactional_db: Any, request: Any, redis_down: str
) -> None:
    integration, token = make(IntegrationKind.ALERTMANAGER, rate_limit_per_minute=100)
    saved = outage(settings, request.getfixturevalue(redis_down))
    try:
        answers = []
        for _ in range(5):
            started = time.perf_counter()
            response = post_json(client, f"/integrations/alertmanager/{token}/", fixture("alertmanager", "firing.json"))
            answers.append(time.perf_counter() - started)
            assert response.status_code == 202
        # The first request pays at most one short timeout per use (rate limiter,
        # broker); the others skip Redis altogether.
        assert answers[0] < 0.5, answers
        assert max(answers[1:]) < 0.1, answers
        assert not redis_guard.broker.allows() and not redis_guard.cache.allows()
    finally:
        restore(settings, saved)
    assert list(Delivery.objects.values_list("status", flat=True)) == [DeliveryStatus.PENDING] * 5

    # Redis is back: beat's sweeper queues what is stale and a worker on the
    # `alerts` queue (the real broker) processes it.
    Delivery.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    with start_worker(celery_app, pool="solo", queues=["alerts"], perform_ping_check=False, shutdown_timeout=10):
        assert tasks.sweep_pending_deliveries() == 5
        deadline = time.monotonic() + 30
        while Delivery.objects.filter(status=DeliveryStatus.PENDING).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.PROCESSED}
    assert Incident.objects.filter(alert_groups__integration=integration).count() == 1
