"""The Markdown importer: a fixture set modelled on real operations runbooks, and
the kubectl lines it must refuse to automate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbooks.actions import ACTIONS, validate_parameters
from runbooks.importer import parse_command, parse_markdown

FIXTURES = Path(__file__).parent / "fixtures"
MARKDOWN = sorted(FIXTURES.glob("*.md"))


def _summary(path: Path) -> list[dict]:
    out = []
    for rb in parse_markdown(path.read_text()):
        steps = []
        for s in rb.steps:
            if s.kind == "automated":
                steps.append({"action": s.action, "parameters": s.parameters, "requires_approval": s.requires_approval,
                              "dangerous": s.dangerous})  # fmt: skip
            else:
                steps.append({"manual": s.command or s.title})
        out.append({"title": rb.title, "alert_names": rb.alert_names, "services": rb.services, "tags": rb.tags, "steps": steps})
    return out


@pytest.mark.parametrize("path", MARKDOWN, ids=[p.stem for p in MARKDOWN])
def test_each_fixture_imports_to_its_expected_runbooks(path: Path) -> None:
    expected = json.loads(path.with_suffix(".expected.json").read_text())
    assert _summary(path) == expected


@pytest.mark.parametrize("path", MARKDOWN, ids=[p.stem for p in MARKDOWN])
def test_every_automated_step_is_a_kubectl_line_with_valid_parameters(path: Path) -> None:
    for rb in parse_markdown(path.read_text()):
        for step in rb.steps:
            if step.kind == "automated":
                assert step.command.startswith("kubectl ")
                validate_parameters(ACTIONS[step.action], step.parameters, allow_templates=False)
            else:
                assert step.action == "" and step.parameters == {}


def test_the_api_gateway_document_gives_one_runbook_per_issue_heading() -> None:
    runbooks = parse_markdown((FIXTURES / "api_gateway.md").read_text())
    assert [rb.title for rb in runbooks] == [
        "Issue: High API Latency", "Issue: Bad Deploy", "Issue: Gateway Pods Crash Looping",
    ]  # fmt: skip
    latency = runbooks[0]
    assert latency.alert_names == ["HighAPILatency", "APIGatewayP99Slow"]
    scale = next(s for s in latency.steps if s.action == "k8s.scale")
    assert scale.parameters == {"kind": "deployment", "name": "api-gateway", "replicas": 5, "namespace": "production"}
    assert scale.requires_approval and scale.title == "Scale up the gateway"


@pytest.mark.parametrize(
    "line",
    [
        "kubectl scale deployment/api --replicas=3 | tee out",
        "kubectl scale deployment/api --replicas=3; rm -rf /",
        "kubectl scale deployment/api --replicas=3 && echo ok",
        "kubectl scale deployment/api --replicas=$N",
        "kubectl scale deployment/api --replicas=`echo 3`",
        "kubectl scale deployment/$(whoami) --replicas=3",
        "kubectl scale deployment/api --replicas=3 > /dev/null",
        "kubectl scale deployment/api --replicas=3 # comment",
        "kubectl scale deployment/api --replicas=3 --all",
        "kubectl scale deployment/api --replicas=-1",
        "kubectl scale deployment/api --replicas=3 --replicas=4",
        "kubectl scale replicaset/api --replicas=3",
        "kubectl scale deployment/API --replicas=3",
        "kubectl scale deployment/api --replicas=3 --context=prod",
        "kubectl scale deployment/api --replicas=3 --kubeconfig=/tmp/x",
        "kubectl scale deployment/api",
        "kubectl scale deployment/api --replicas=3 extra",
        "kubectl delete deployment/api",
        "kubectl exec -it api-0 -- sh",
        "kubectl apply -f deploy.yaml",
        "kubectl rollout undo deployment/api --to-revision=abc",
        "kubectl rollout undo statefulset/db",
        "kubectl rollout pause deployment/api",
        "kubectl set env deployment/api FOO-",
        "kubectl set env deployment/api --from=secret/x",
        "kubectl set env deployment/api FOO=1 FOO=2",
        "kubectl set image deployment/api api=nginx:1",
        "kubectl logs deployment/api",
        "kubectl get pods -A",
        "kubectl 'scale' deployment/api --replicas=3 'unterminated",
        "sudo kubectl scale deployment/api --replicas=3",
        "kubectl scale deployment/api --replicas=3 -n Bad_Namespace",
        "kubectl scale deployment/api --replicas=3 -n",
    ],
)
def test_it_leaves_anything_not_understood_manual(line: str) -> None:
    assert parse_command(line) is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("kubectl scale deployment/api-gateway --replicas=5", ("k8s.scale", {"kind": "deployment", "name": "api-gateway", "replicas": 5})),
        ("kubectl scale sts/db --replicas 2 --namespace=data", ("k8s.scale", {"kind": "statefulset", "name": "db", "replicas": 2, "namespace": "data"})),
        ("kubectl -n production rollout restart deployment/prediction-service",
         ("k8s.rollout_restart", {"kind": "deployment", "name": "prediction-service", "namespace": "production"})),
        ("kubectl rollout undo deployment/api-gateway -n production --to-revision=5",
         ("k8s.rollout_undo", {"name": "api-gateway", "namespace": "production", "to_revision": 5})),
        ("kubectl set env deployment/api-gateway CACHE_TTL=600 'GREETING=hello world'",
         ("k8s.set_env", {"name": "api-gateway", "env": {"CACHE_TTL": "600", "GREETING": "hello world"}})),
        ("kubectl rollout status deployment/api --timeout=90s", ("k8s.rollout_status", {"name": "api", "timeout_seconds": 90})),
    ],
)
def test_it_understands_the_kubectl_forms_of_the_issue(line: str, expected: tuple) -> None:
    assert parse_command(line) == expected


def test_a_document_without_headings_is_one_runbook_and_controls_are_cleaned() -> None:
    runbooks = parse_markdown("1. Page the database team\x00\n2. `kubectl rollout restart deployment/api`\n")
    assert len(runbooks) == 1
    assert runbooks[0].title == "Imported runbook"
    assert [s.kind for s in runbooks[0].steps] == ["manual", "automated"]
    assert "\x00" not in runbooks[0].steps[0].title
