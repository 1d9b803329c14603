"""The portal's Kubernetes actions send what kubectl sends.

kubectl (on the machine, or Debian's `kubernetes-client`) runs each operation
against the stub API server with a generated kubeconfig; the portal runs the same
operation against a fresh stub with the same objects; the requests must agree:
the same mutating calls (verb, path, patch type, body, dryRun) in the same order,
and the same objects read. Timestamps (the restartedAt value) and the field
manager name are the only differences allowed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runbooks.actions import ACTIONS, ActionContext
from runbooks.actions.kubernetes import RESTARTED_AT, reset_clients
from runbooks.importer import parse_command
from runbooks.tests.k8s_stub import Request, Seed, running_stub, write_kubeconfig

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None and not os.environ.get("REQUIRE_KUBECTL"), reason="kubectl is not installed")

COMMANDS = [
    "kubectl scale deployment/api-gateway --replicas=5 -n production",
    "kubectl scale statefulset/model-server --replicas=3 -n ml",
    "kubectl rollout restart deployment/api-gateway -n production",
    "kubectl rollout undo deployment/api-gateway -n production",
    "kubectl rollout undo deployment/api-gateway -n production --to-revision=1",
    "kubectl set env deployment/api-gateway CACHE_TTL=600 LOG_LEVEL=debug -n production",
    "kubectl set env deployment/prediction-service MODEL_VARIANT=small -n ml",
]


def _normalise(request: Request) -> tuple[Any, ...]:
    body = request.body
    if isinstance(body, dict):
        annotations = body.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {})
        if RESTARTED_AT in annotations:
            annotations[RESTARTED_AT] = "<timestamp>"
    return request.method, request.path, request.content_type, request.query.get("dryRun"), body


def _reads(requests: list[Request]) -> set[tuple[str, str, str]]:
    return {(r.method, r.path, r.query.get("labelSelector", "")) for r in requests if r.method == "GET"}


def _kubectl(command: str, own_tmp: Path, *, dry_run: bool) -> list[Request]:
    with running_stub() as server:
        Seed().apply(server.cluster)
        kubeconfig = write_kubeconfig(own_tmp / "kubectl-config", server.url)
        args = command.split()[1:] + (["--dry-run=server"] if dry_run else [])
        done = subprocess.run(
            [KUBECTL or "kubectl", "--kubeconfig", str(kubeconfig), "--cache-dir", str(own_tmp / "cache"), *args],
            capture_output=True, text=True, timeout=60, env={"HOME": str(own_tmp), "PATH": os.environ.get("PATH", "")},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return server.calls()


def _portal(command: str, own_tmp: Path, settings: Any, stub_cluster: Any, *, dry_run: bool) -> list[Request]:
    action_name, params = parse_command(command)  # type: ignore[misc]
    with running_stub() as server:
        Seed().apply(server.cluster)
        settings.RUNBOOKS_KUBECONFIG = str(write_kubeconfig(own_tmp / "portal-config", server.url))
        reset_clients()
        result = ACTIONS[action_name].execute(ActionContext(cluster=stub_cluster, dry_run=dry_run, idempotency_key="k1"), params)
        assert result.ok, result.output
        reset_clients()
        return server.calls()


@pytest.mark.parametrize("dry_run", [False, True], ids=["real", "dry-run"])
@pytest.mark.parametrize("command", COMMANDS)
def test_the_portal_sends_what_kubectl_sends(command: str, dry_run: bool, own_tmp: Path, settings: Any, stub_cluster: Any) -> None:
    if dry_run and "rollout restart" in command:
        pytest.skip("kubectl rollout restart has no --dry-run (test_actions covers the portal's)")
    theirs = _kubectl(command, own_tmp, dry_run=dry_run)
    ours = _portal(command, own_tmp, settings, stub_cluster, dry_run=dry_run)
    their_mutations = [_normalise(r) for r in theirs if r.method != "GET"]
    assert their_mutations, "kubectl made no change: the comparison would prove nothing"
    assert [_normalise(r) for r in ours if r.method != "GET"] == their_mutations
    assert _reads(ours) == _reads(theirs)
    if dry_run:
        assert all(r.query.get("dryRun") == "All" for r in ours if r.method != "GET")
