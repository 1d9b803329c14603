"""Kubernetes actions against the stub API server: state before and after, dry run,
the namespace allow-list, rollout status rules, pods and logs, parameter schemas."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from portal.errors import ValidationFailed
from runbooks.actions import (
    ACTIONS,
    ActionContext,
    ActionError,
    OutcomeUnknown,
    render_parameters,
    validate_parameters,
)
from runbooks.actions.kubernetes import IDEMPOTENCY_HEADER, RESTARTED_AT, reset_clients, rollout_progress


def run(name: str, params: dict, cluster: Any, **ctx: Any) -> Any:
    return ACTIONS[name].execute(ActionContext(cluster=cluster, **ctx), params)


def test_scale_records_the_replicas_before_and_after_and_sends_the_idempotency_key(k8s: Any, stub_cluster: Any) -> None:
    result = run("k8s.scale", {"kind": "deployment", "name": "api-gateway", "namespace": "production", "replicas": 5},
                 stub_cluster, idempotency_key="key-1")  # fmt: skip
    assert result.ok and result.before["replicas"] == 3 and result.after["replicas"] == 5
    assert k8s.cluster.deployments[("production", "api-gateway")]["spec"]["replicas"] == 5
    [patch] = k8s.mutations()
    assert patch.headers[IDEMPOTENCY_HEADER.lower()] == "key-1"


def test_a_dry_run_changes_nothing_and_says_so(k8s: Any, stub_cluster: Any) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("k8s.scale", {"kind": "statefulset", "name": "model-server", "namespace": "ml", "replicas": 4}),
        ("k8s.rollout_restart", {"name": "api-gateway", "namespace": "production"}),
        ("k8s.rollout_undo", {"name": "api-gateway", "namespace": "production"}),
        ("k8s.set_env", {"name": "api-gateway", "namespace": "production", "env": {"A": "1"}}),
    ]
    for name, params in cases:
        before = repr(k8s.cluster.deployments) + repr(k8s.cluster.statefulsets)
        result = run(name, params, stub_cluster, dry_run=True)
        assert "dry run" in result.output
        assert repr(k8s.cluster.deployments) + repr(k8s.cluster.statefulsets) == before
    assert {r.query.get("dryRun") for r in k8s.mutations()} == {"All"}
    assert len(k8s.mutations()) == 4


def test_restart_sets_the_restarted_at_annotation(k8s: Any, stub_cluster: Any) -> None:
    result = run("k8s.rollout_restart", {"name": "api-gateway", "namespace": "production"}, stub_cluster)
    annotations = k8s.cluster.deployments[("production", "api-gateway")]["spec"]["template"]["metadata"]["annotations"]
    assert annotations[RESTARTED_AT].endswith("Z") and result.after["restarted_at"] == annotations[RESTARTED_AT]
    assert result.before["restarted_at"] is None


def test_undo_goes_back_one_revision_then_to_a_given_one(k8s: Any, stub_cluster: Any) -> None:
    dep = k8s.cluster.deployments[("production", "api-gateway")]
    run("k8s.rollout_undo", {"name": "api-gateway", "namespace": "production"}, stub_cluster)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.5.0")
    run("k8s.rollout_undo", {"name": "api-gateway", "namespace": "production", "to_revision": 1}, stub_cluster)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.4.0")
    assert "pod-template-hash" not in dep["spec"]["template"]["metadata"]["labels"]
    with pytest.raises(ActionError, match="unable to find specified revision 42"):
        run("k8s.rollout_undo", {"name": "api-gateway", "namespace": "production", "to_revision": 42}, stub_cluster)
    with pytest.raises(ActionError, match="no rollout history"):
        run("k8s.rollout_undo", {"name": "prediction-service", "namespace": "ml"}, stub_cluster)


def test_set_env_changes_only_what_differs(k8s: Any, stub_cluster: Any) -> None:
    result = run("k8s.set_env", {"name": "api-gateway", "namespace": "production", "env": {"CACHE_TTL": "600"}}, stub_cluster)
    assert result.after["env"]["api-gateway"] == {"LOG_LEVEL": "info", "CACHE_TTL": "600"}
    k8s.clear()
    again = run("k8s.set_env", {"name": "api-gateway", "namespace": "production", "env": {"CACHE_TTL": "600"}}, stub_cluster)
    assert "nothing sent" in again.output and k8s.mutations() == []
    with pytest.raises(ActionError, match="no container 'sidecar'"):
        run("k8s.set_env", {"name": "api-gateway", "namespace": "production", "env": {"A": "1"}, "container": "sidecar"}, stub_cluster)


def test_a_namespace_outside_the_allow_list_is_refused_before_any_request(k8s: Any, stub_cluster: Any) -> None:
    with pytest.raises(ActionError, match="not in the allow-list"):
        run("k8s.scale", {"kind": "deployment", "name": "api-gateway", "namespace": "kube-system", "replicas": 0}, stub_cluster)
    assert k8s.calls() == []


def test_an_api_error_is_reported_with_the_servers_message(k8s: Any, stub_cluster: Any) -> None:
    with pytest.raises(ActionError, match='404 deployments.apps "nope" not found'):
        run("k8s.scale", {"kind": "deployment", "name": "nope", "namespace": "production", "replicas": 1}, stub_cluster)


def test_a_lost_connection_during_a_change_is_an_unknown_outcome(stub_cluster: Any, settings: Any, own_tmp: Any) -> None:
    from runbooks.tests.k8s_stub import Seed, running_stub, write_kubeconfig

    with running_stub() as server:
        Seed().apply(server.cluster)
        settings.RUNBOOKS_KUBECONFIG = str(write_kubeconfig(own_tmp / "kc", server.url))
        reset_clients()
        original = server.answer

        def hang_up(request: Any) -> Any:
            if request.method == "PATCH":
                raise ConnectionResetError("gone")  # the handler thread dies: no answer
            return original(request)

        server.answer = hang_up  # type: ignore[method-assign,assignment]
        with pytest.raises(OutcomeUnknown):
            run("k8s.scale", {"kind": "deployment", "name": "api-gateway", "namespace": "production", "replicas": 9},
                stub_cluster, timeout_seconds=5)  # fmt: skip
        assert len(server.mutations()) == 1  # the client did not send it again
    reset_clients()


def test_rollout_status_waits_for_the_rollout_by_kubectls_rules(k8s: Any, stub_cluster: Any) -> None:
    k8s.cluster.rollout_instantly = False
    run("k8s.rollout_restart", {"name": "api-gateway", "namespace": "production"}, stub_cluster)
    timer = threading.Timer(0.3, k8s.cluster.finish_rollouts)
    timer.start()
    started = time.monotonic()
    result = run("k8s.rollout_status", {"name": "api-gateway", "namespace": "production"}, stub_cluster, timeout_seconds=10)
    assert result.ok and time.monotonic() - started >= 0.25
    assert result.output.splitlines()[0] == "Waiting for deployment spec update to be observed..."
    assert result.output.splitlines()[-1] == 'deployment "api-gateway" successfully rolled out'


def test_rollout_progress_follows_kubectl() -> None:
    dep: dict[str, Any] = {"metadata": {"name": "x", "generation": 2}, "spec": {"replicas": 3},
           "status": {"observedGeneration": 2, "replicas": 4, "updatedReplicas": 2, "availableReplicas": 2}}  # fmt: skip
    assert rollout_progress(dep) == (False, 'Waiting for deployment "x" rollout to finish: 2 out of 3 new replicas have been updated...')
    dep["status"].update(updatedReplicas=3)
    assert rollout_progress(dep)[1].endswith("1 old replicas are pending termination...")
    dep["status"].update(replicas=3)
    assert rollout_progress(dep)[1].endswith("2 of 3 updated replicas are available...")
    dep["status"].update(availableReplicas=3)
    assert rollout_progress(dep) == (True, 'deployment "x" successfully rolled out')
    dep["status"]["conditions"] = [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]
    with pytest.raises(ActionError, match="exceeded its progress deadline"):
        rollout_progress(dep)


def test_rollout_status_gives_up_at_the_timeout(k8s: Any, stub_cluster: Any) -> None:
    k8s.cluster.rollout_instantly = False
    run("k8s.rollout_restart", {"name": "api-gateway", "namespace": "production"}, stub_cluster)
    with pytest.raises(ActionError, match="timed out"):
        run("k8s.rollout_status", {"name": "api-gateway", "namespace": "production", "timeout_seconds": 1}, stub_cluster, timeout_seconds=1)


def test_pods_and_logs_are_read_only(k8s: Any, stub_cluster: Any) -> None:
    pods = run("k8s.list_pods", {"namespace": "production", "label_selector": "app=api-gateway"}, stub_cluster)
    assert len(pods.after["pods"]) == 3 and pods.output.startswith("NAME\tREADY")
    name = pods.after["pods"][0]["name"]
    log = run("k8s.pod_log", {"pod": name, "namespace": "production", "tail_lines": 2}, stub_cluster)
    assert log.output == f"{name} line 299\n{name} line 300\n"
    assert k8s.mutations() == []


def test_parameters_are_checked_against_the_schema() -> None:
    scale = ACTIONS["k8s.scale"]
    with pytest.raises(ValidationFailed) as err:
        validate_parameters(scale, {"kind": "daemonset", "name": "Bad Name", "replicas": -1, "shell": "rm -rf /"})
    assert {"parameters.kind", "parameters.name", "parameters.replicas", "parameters"} <= set(err.value.fields)
    assert validate_parameters(scale, {"kind": "deployment", "name": "{{ service }}", "replicas": 2})
    with pytest.raises(ValidationFailed):
        validate_parameters(scale, {"kind": "deployment", "name": "{{ service }}", "replicas": 2}, allow_templates=False)


def test_templates_fill_from_the_run_context_and_refuse_unknown_names() -> None:
    params = {"name": "{{ service }}", "namespace": "{{labels.namespace}}", "replicas": 3}
    assert render_parameters(params, {"service": "api", "labels": {"namespace": "prod"}}) == {"name": "api", "namespace": "prod", "replicas": 3}
    with pytest.raises(ValidationFailed):
        render_parameters(params, {"service": "api", "labels": {}})


def test_a_broken_cluster_configuration_fails_the_step_before_any_request(k8s: Any, stub_cluster: Any, settings: Any) -> None:
    stub_cluster.context = "no-such-context"
    with pytest.raises(ActionError, match="Cluster stub"):
        run("k8s.scale", {"kind": "deployment", "name": "api-gateway", "namespace": "production", "replicas": 9}, stub_cluster)
    assert k8s.calls() == []
