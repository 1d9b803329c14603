"""A worker's batch hands its results to the writer thread and returns; the writer
records them through its own connection, and a batch delivered twice records nothing
twice."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from health import services, tasks
from health.models import Probe, ProbeResult, ProbeState
from health.tests.servers import HealthServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("seeded_transactional_db")]


def test_a_batch_is_recorded_by_the_writer_thread(cast: Any, server: HealthServer) -> None:
    probe = services.probe_create(by=None, service=cast.service, name="API", kind="http", target={"url": f"{server.url}/health"},
                                  success_threshold=1)  # fmt: skip
    items = [[probe.pk, timezone.now().isoformat()]]
    assert tasks.run_batch.run("local", items) == {"run": 1}
    assert tasks.run_batch.run("local", items) == {"run": 1}  # delivered twice
    tasks.drain()
    assert ProbeResult.objects.filter(probe=probe).count() == 1
    assert ProbeState.objects.get(probe=probe).status == "up"
    assert Probe.objects.get(pk=probe.pk).status == "up"
