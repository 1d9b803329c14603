"""Runbooks, their steps, the clusters actions reach, runs and the audit log.

A run copies each step into a StepRun when it starts: editing a runbook never
changes a run in progress, and the record shows exactly what was executed.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class StepKind(models.TextChoices):
    MANUAL = "manual", "Manual"
    AUTOMATED = "automated", "Automated"


class Runbook(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)  # Markdown, as written
    description_html = models.TextField(blank=True, editable=False)  # rendered and sanitised by portal.markdown
    services = models.ManyToManyField("incidents.Service", related_name="runbooks", blank=True)
    tags = models.JSONField(default=list, blank=True)  # ["latency", "database"]
    alert_names = models.JSONField(default=list, blank=True)  # alertname labels this runbook answers
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")  # fmt: skip
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_drill_safe(self) -> bool:
        return not self.steps.filter(kind=StepKind.AUTOMATED).exists()


class DueFrom(models.TextChoices):
    """What a checklist item's target time counts from."""

    START = "start", "the incident's start"
    RESOLUTION = "resolution", "the incident's resolution"


class Step(models.Model):
    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=StepKind.choices, default=StepKind.MANUAL)
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    command = models.TextField(blank=True)  # shown to copy for a manual step, never executed
    action = models.CharField(max_length=64, blank=True)  # a name in runbooks.actions.ACTIONS
    parameters = models.JSONField(default=dict, blank=True)  # validated against the action's schema
    requires_approval = models.BooleanField(default=False)
    dangerous = models.BooleanField(default=False)
    continue_on_failure = models.BooleanField(default=False)
    timeout_seconds = models.PositiveIntegerField(default=300)
    # A response checklist's target: done within `due_minutes` of the incident's start
    # (or of its resolution). Manual steps only; a step with a target is checked off
    # whenever it is done, not in order.
    due_minutes = models.PositiveIntegerField(null=True, blank=True)
    due_from = models.CharField(max_length=16, choices=DueFrom.choices, default=DueFrom.START)

    class Meta:
        ordering = ["runbook", "order"]
        constraints = [
            models.UniqueConstraint(fields=["runbook", "order"], name="runbook_step_order_unique"),
            models.CheckConstraint(condition=Q(kind="manual") | ~Q(action=""), name="runbook_step_automated_has_action"),
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.title}"


class Cluster(models.Model):
    """A Kubernetes cluster reached through a kubeconfig context (the file named by
    RUNBOOKS_KUBECONFIG) or the pod's in-cluster service account."""

    name = models.SlugField(max_length=64, unique=True)
    context = models.CharField(max_length=200, blank=True)  # kubeconfig context; empty with in_cluster
    in_cluster = models.BooleanField(default=False)
    namespaces = models.JSONField(default=list, blank=True)  # the only namespaces actions may touch

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def allows(self, namespace: str) -> bool:
        return namespace in self.namespaces


class HttpEndpoint(models.Model):
    """Where the `http.request` action may send requests: a base URL configured by a
    manager, and headers (a token) that steps use without ever seeing them. A step
    names the endpoint and a path below its URL, never a URL of its own."""

    name = models.SlugField(max_length=64, unique=True)
    url = models.URLField(max_length=500)  # the base: https://ops.example.com/api
    headers = models.JSONField(default=dict, blank=True)  # sent with every request; never shown back
    timeout_seconds = models.PositiveIntegerField(default=10)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Checklist(models.Model):
    """A response checklist attached to a severity, and optionally to one service: an
    incident that opens at that severity (touching that service) starts it by itself."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="checklists")
    severity = models.ForeignKey("incidents.Severity", on_delete=models.CASCADE, related_name="+")
    service = models.ForeignKey("incidents.Service", null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["severity__rank", "id"]
        constraints = [
            models.UniqueConstraint(fields=["runbook", "severity", "service"], name="checklist_unique"),
            models.UniqueConstraint(fields=["runbook", "severity"], condition=Q(service__isnull=True),
                                    name="checklist_unique_any_service"),  # fmt: skip
        ]
        # the subscriber: WHERE severity_id = ? (the FK's own index)

    def __str__(self) -> str:
        return f"{self.runbook_id} on {self.severity_id}" + (f"/{self.service_id}" if self.service_id else "")


class RunState(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Run(models.Model):
    """One execution of a runbook, for an incident or as a drill (no incident)."""

    runbook = models.ForeignKey(Runbook, on_delete=models.PROTECT, related_name="runs")
    incident = models.ForeignKey("incidents.Incident", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="runbook_runs")  # fmt: skip
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.PROTECT, related_name="runs")
    namespace = models.CharField(max_length=253, blank=True)  # default for steps that name none
    dry_run = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.RUNNING)
    context = models.JSONField(default=dict, blank=True)  # values the step parameters were templated with
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # the war room: an incident's runs, newest first
            models.Index(fields=["incident", "-id"], name="run_incident_idx"),
            # a runbook's page: its runs, newest first
            models.Index(fields=["runbook", "-id"], name="run_runbook_idx"),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.runbook_id}"

    @property
    def is_drill(self) -> bool:
        return self.incident_id is None

    @property
    def is_finished(self) -> bool:
        return self.state != RunState.RUNNING


class StepState(models.TextChoices):
    PENDING = "pending", "Pending"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    APPROVED = "approved", "Approved"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"
    OUTCOME_UNKNOWN = "outcome_unknown", "Outcome unknown"


# A step whose outcome is unknown is not terminal: it holds its run until a person
# marks it (succeeded or failed) or retries it.
TERMINAL_STEP_STATES = frozenset({StepState.SUCCEEDED, StepState.FAILED, StepState.SKIPPED, StepState.CANCELLED})


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class StepRun(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="step_runs")
    step = models.ForeignKey(Step, null=True, on_delete=models.SET_NULL, related_name="+")
    # a copy of the step as it was when the run started
    order = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=StepKind.choices)
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    command = models.TextField(blank=True)
    action = models.CharField(max_length=64, blank=True)
    parameters = models.JSONField(default=dict, blank=True)  # templated and validated
    requires_approval = models.BooleanField(default=False)
    dangerous = models.BooleanField(default=False)
    continue_on_failure = models.BooleanField(default=False)
    timeout_seconds = models.PositiveIntegerField(default=300)
    due_minutes = models.PositiveIntegerField(null=True, blank=True)
    due_from = models.CharField(max_length=16, choices=DueFrom.choices, default=DueFrom.START)

    state = models.CharField(max_length=24, choices=StepState.choices, default=StepState.PENDING)
    # Written with the claim, before the action is called: the action sends it with its
    # request, and a retry by a person gets a new one.
    idempotency_key = models.CharField(max_length=64, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True)  # worker host and pid
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")  # fmt: skip
    approved_at = models.DateTimeField(null=True, blank=True)
    finished_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")  # fmt: skip
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    before = models.JSONField(default=dict, blank=True)  # the target's state before the call
    after = models.JSONField(default=dict, blank=True)  # ... and after it
    output = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "order"]
        constraints = [
            models.UniqueConstraint(fields=["run", "order"], name="steprun_order_unique"),
            models.UniqueConstraint(fields=["idempotency_key"], condition=~Q(idempotency_key=""),
                                    name="steprun_idempotency_key_unique"),  # fmt: skip
        ]
        indexes = [
            # the sweeper: WHERE state = 'running' AND claimed_at < ?
            models.Index(fields=["state", "claimed_at"], name="steprun_state_claim_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.title} [{self.state}]"

    @property
    def needs_approval(self) -> bool:
        # A dangerous step always needs a second person.
        return self.kind == StepKind.AUTOMATED and (self.requires_approval or self.dangerous)

    @property
    def is_settled(self) -> bool:
        return self.state in TERMINAL_STEP_STATES


class AuditEntry(models.Model):
    """Append-only record of who did what to runbooks and runs, with parameters and result."""

    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")  # fmt: skip
    action = models.CharField(max_length=64)  # "run.started", "step.approved", ...
    runbook = models.ForeignKey(Runbook, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit")
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit")
    step_run = models.ForeignKey(StepRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit")
    parameters = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["run", "at"], name="audit_run_idx")]  # a run page's audit list

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError("Audit entries are append-only.")
        super().save(*args, **kwargs)
