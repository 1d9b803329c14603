"""Two locations served by two real Celery workers (`-Q probes.<location>`) against
the same broker and database, and a quorum over them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from health import services, tasks
from health.models import Probe, ProbeResult, ProbeState
from health.tests.servers import HealthServer
from portal.tests.factories import ServiceFactory

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        # the same waits as the embedded settings: writers queue instead of failing
        return f"sqlite:///{config['NAME']}?timeout=20&transaction_mode=IMMEDIATE"
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    return f"postgres://{config['USER']}{password}@{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}/{config['NAME']}"


@pytest.fixture
def workers(seeded_transactional_db: Any, tmp_path: Path) -> Iterator[None]:
    """Their output goes to tmp_path/<location>.log."""
    env = {**os.environ, "DATABASE_URL": database_url(), "DB_POOL": "0", "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    env.pop("TEST_DATABASE_NAME", None)
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", f"probes.{name}", "--pool", "solo", "-n", f"{name}@%h",
             "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=(tmp_path / f"{name}.log").open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        for name in ("east", "west")
    ]
    try:
        yield
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the workers")
        time.sleep(0.25)


def test_two_locations_with_real_workers_and_a_quorum(workers: None, server: HealthServer) -> None:
    services.location_create(name="east")
    services.location_create(name="west")
    probe = services.probe_create(
        by=None, service=ServiceFactory(slug="shop"), name="Shop", kind="http", target={"url": f"{server.url}/health"},
        locations=["east", "west"], quorum=2, failure_threshold=1, success_threshold=1, interval_seconds=3600,
    )  # fmt: skip
    assert tasks.schedule() == 2  # one run per location, each on its own queue
    wait_for(lambda: ProbeState.objects.filter(probe=probe, status="up").count() == 2)
    assert set(ProbeResult.objects.filter(probe=probe).values_list("location__name", flat=True)) == {"east", "west"}
    assert Probe.objects.get(pk=probe.pk).status == "up"

    server.mode = "error"
    Probe.objects.filter(pk=probe.pk).update(next_run_at=timezone.now())
    assert tasks.schedule() == 2
    wait_for(lambda: ProbeState.objects.filter(probe=probe, status="down").count() == 2)
    assert Probe.objects.get(pk=probe.pk).status == "down"
