"""With Redis gone (nothing listening, or a server that accepts and never answers)
a webhook is still stored and answered at once; once Redis is back the beat
sweeper queues it and a worker processes it."""

from __future__ import annotations

import socket
import threading
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


class SilentRedis:
    """A port that accepts connections and never answers: the harder outage, where
    every call waits for its timeout. Counts the connections it was offered."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(256)
        self.url = f"redis://127.0.0.1:{self.server.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.server.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.server.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent_redis() -> Iterator[SilentRedis]:
    server = SilentRedis()
    yield server
    server.close()


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


def post_five(client: Any, token: str) -> list[float]:
    answers = []
    for _ in range(5):
        started = time.perf_counter()
        response = post_json(client, f"/integrations/alertmanager/{token}/", fixture("alertmanager", "firing.json"))
        answers.append(time.perf_counter() - started)
        assert response.status_code == 202
    return answers


def test_a_redis_that_never_answers_is_tried_once_then_skipped(
    client: Any, settings: Any, seeded_transactional_db: Any, silent_redis: SilentRedis
) -> None:
    integration, token = make(IntegrationKind.ALERTMANAGER, rate_limit_per_minute=100)
    saved = outage(settings, silent_redis.url)
    try:
        answers = post_five(client, token)
        # One short timeout each for the rate limiter and the broker, on the first
        # request; the next ones do not touch Redis at all.
        deadline = time.monotonic() + 2
        while len(silent_redis.accepted) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # the accepting thread may lag behind the kernel
        assert len(silent_redis.accepted) == 2
        assert not redis_guard.broker.allows() and not redis_guard.cache.allows()
        assert sum(answers) < 2.0, answers  # the old path waited on redis-py and kombu retries for minutes
    finally:
        restore(settings, saved)
    assert list(Delivery.objects.values_list("status", flat=True)) == [DeliveryStatus.PENDING] * 5
    processed_later_by_the_sweeper(integration)


def test_a_refused_redis_costs_the_webhook_nothing(client: Any, settings: Any, seeded_transactional_db: Any, dead_redis: str) -> None:
    integration, token = make(IntegrationKind.ALERTMANAGER, rate_limit_per_minute=100)
    saved = outage(settings, dead_redis)
    try:
        answers = post_five(client, token)
        assert not redis_guard.broker.allows() and not redis_guard.cache.allows()
        assert sum(answers) < 2.0, answers
    finally:
        restore(settings, saved)
    assert list(Delivery.objects.values_list("status", flat=True)) == [DeliveryStatus.PENDING] * 5
    processed_later_by_the_sweeper(integration)


def processed_later_by_the_sweeper(integration: Any) -> None:
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
