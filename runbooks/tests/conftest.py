"""Fixtures for the runbooks tests: the stub Kubernetes API server and a cluster
configured to reach it through a generated kubeconfig."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from incidents.tests.test_browser import live_asgi  # noqa: F401 - registers the fixture
from runbooks.tests.k8s_stub import Seed, StubServer, running_stub, write_kubeconfig


@pytest.fixture
def own_tmp() -> Iterator[Path]:
    """A temporary directory of this test alone. pytest's tmp_path lives under a
    base directory that other pytest sessions of the same user prune while this
    one runs (they keep the last three), and a worker process reads files here."""
    with tempfile.TemporaryDirectory(prefix="runbooks-test-") as path:
        yield Path(path)


@pytest.fixture
def k8s(own_tmp: Path, settings: Any) -> Iterator[StubServer]:
    from runbooks.actions.kubernetes import reset_clients, warm_up

    warm_up()  # as a worker does when it starts

    with running_stub() as server:
        Seed().apply(server.cluster)
        settings.RUNBOOKS_KUBECONFIG = str(write_kubeconfig(own_tmp / "kubeconfig", server.url))
        settings.RUNBOOKS_POLL_SECONDS = 0.05
        reset_clients()
        yield server
        reset_clients()


@pytest.fixture
def stub_cluster() -> Any:
    """An unsaved Cluster for action tests that need no database."""
    from runbooks.models import Cluster

    return Cluster(name="stub", context="stub", namespaces=["production", "ml"])
