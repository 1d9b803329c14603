"""Builders shared by the runbooks tests."""

from __future__ import annotations

from typing import Any

from portal.models import OrgRole
from portal.tests.factories import UserFactory
from runbooks.models import Cluster, Runbook
from runbooks.services import StepInput, runbook_save


def approver() -> Any:
    return UserFactory.create(username="approver", role=OrgRole.RESPONDER)


def cluster() -> Cluster:
    return Cluster.objects.get_or_create(name="stub", defaults={"context": "stub", "namespaces": ["production", "ml"]})[0]


def latency_runbook(by: Any, **step_flags: Any) -> Runbook:
    """Check the dashboards (manual), scale the gateway (automated, approval), wait for it (automated)."""
    return runbook_save(
        title="High API latency", by=by, alert_names=["HighAPILatency"],
        steps=[
            StepInput(title="Check the latency dashboard", instructions="Grafana → API → p99"),
            StepInput(title="Scale up the gateway", kind="automated", action="k8s.scale", requires_approval=True,
                      parameters={"kind": "deployment", "name": "api-gateway", "namespace": "production", "replicas": 5},
                      **step_flags),
            StepInput(title="Wait for the rollout", kind="automated", action="k8s.rollout_status",
                      parameters={"name": "api-gateway", "namespace": "production"}, timeout_seconds=30),
        ],
    )  # fmt: skip
