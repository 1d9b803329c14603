"""Health probes: what to check, from where, what came back, and the state it led to.

Current state (`ProbeState` per probe and location, `Probe.status` over the
locations) is kept apart from history (`ProbeResult`, append-only), so that a
replayed batch can be recognised against the state it would change.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class ProbeKind(models.TextChoices):
    HTTP = "http", "HTTP(S)"
    TCP = "tcp", "TCP connect"
    DNS = "dns", "DNS"
    TLS = "tls", "TLS certificate"
    POSTGRES = "postgres", "PostgreSQL"
    REDIS = "redis", "Redis"
    KUBERNETES = "kubernetes", "Kubernetes deployment"
    HEARTBEAT = "heartbeat", "Heartbeat (push)"


class Outcome(models.TextChoices):
    """What one run found (a result), or what the thresholds made of the runs (a state)."""

    PENDING = "pending", "Pending"
    UP = "up", "Up"
    DEGRADED = "degraded", "Degraded"
    DOWN = "down", "Down"
    NO_DATA = "no_data", "No data"


class Policy(models.TextChoices):
    RECORD = "record", "Record only"
    ALERT = "alert", "Raise an alert"
    DECLARE = "declare", "Declare an incident"


class OnRecovery(models.TextChoices):
    RESOLVE = "resolve", "Resolve the incident"
    MONITORING = "monitoring", "Move the incident to monitoring"


class Location(models.Model):
    """A place probes run from: the Celery queue `probes.<name>`, served by any worker
    started with that queue. `self_check` is a known target (`tcp://host:port` or an
    http(s) URL) that the location's prober checks before each batch: when it fails,
    the batch is recorded as "no data" rather than as an outage of every service."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=200, blank=True)
    self_check = models.CharField(max_length=500, blank=True)
    last_batch_at = models.DateTimeField(null=True, blank=True)
    last_self_check_ok = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def queue(self) -> str:
        return f"probes.{self.name}"


class Probe(models.Model):
    """One check of a service.

    target: the kind's non-secret settings, validated per kind (health/probes/<kind>.py).
    credentials: passwords, DSNs and kubeconfigs; written, used by the prober, never
        shown back or returned by the API.
    conditions: condition strings (health/conditions.py), checked when saved.
    """

    service = models.ForeignKey("incidents.Service", on_delete=models.CASCADE, related_name="probes")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=ProbeKind.choices)
    target = models.JSONField(default=dict, blank=True)
    credentials = models.JSONField(default=dict, blank=True)
    conditions = models.JSONField(default=list, blank=True)
    interval_seconds = models.PositiveIntegerField(default=60)
    timeout_seconds = models.FloatField(default=10.0)
    failure_threshold = models.PositiveSmallIntegerField(default=3)
    success_threshold = models.PositiveSmallIntegerField(default=2)
    locations = models.ManyToManyField(Location, related_name="probes")
    quorum = models.PositiveSmallIntegerField(default=1, help_text="Locations that must agree before the probe is down.")
    policy = models.CharField(max_length=8, choices=Policy.choices, default=Policy.RECORD)
    severity = models.ForeignKey("incidents.Severity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    on_recovery = models.CharField(max_length=12, choices=OnRecovery.choices, default=OnRecovery.RESOLVE)
    enabled = models.BooleanField(default=True)
    # The schedule: beat claims rows with next_run_at <= now and moves it on by the interval.
    next_run_at = models.DateTimeField(default=timezone.now)
    # The state over all locations (quorum), and the last one sent to the alert pipeline:
    # they differ while a maintenance window holds the effect back.
    status = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.PENDING)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    signalled_status = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.PENDING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service__name", "name", "id"]
        indexes = [
            # beat: WHERE enabled AND next_run_at <= now ORDER BY next_run_at
            models.Index(fields=["next_run_at"], condition=models.Q(enabled=True), name="probe_due_idx"),
            # the probes list filtered by status, newest first
            models.Index(fields=["status", "-id"], name="probe_status_idx"),
            # the probes list filtered by kind
            models.Index(fields=["kind", "-id"], name="probe_kind_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(interval_seconds__gte=1), name="probe_interval_positive"),
            models.CheckConstraint(condition=models.Q(quorum__gte=1), name="probe_quorum_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class ProbeState(models.Model):
    """The state of one probe seen from one location, after thresholds.

    last_scheduled_at: the scheduled time of the last run applied; a run is applied
    only when its time is later, so a batch delivered twice changes nothing."""

    probe = models.ForeignKey(Probe, on_delete=models.CASCADE, related_name="states")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.PENDING)
    last_outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.PENDING)
    confirmed = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.PENDING)  # held through "no data"
    failures = models.PositiveIntegerField(default=0)  # consecutive down results
    successes = models.PositiveIntegerField(default=0)  # consecutive up or degraded results
    same = models.PositiveIntegerField(default=0)  # consecutive results equal to last_outcome
    last_scheduled_at = models.DateTimeField(null=True, blank=True)
    last_result_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["probe", "location"], name="probe_state_unique")]

    def __str__(self) -> str:
        return f"{self.probe_id}@{self.location_id}: {self.status}"


class ProbeResult(models.Model):
    """One run of one probe from one location. Append-only; inserted in batches."""

    probe = models.ForeignKey(Probe, on_delete=models.CASCADE, related_name="results")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")
    scheduled_at = models.DateTimeField()
    started_at = models.DateTimeField()
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    response_time_ms = models.FloatField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    evaluations = models.JSONField(default=list, blank=True)
    values = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            # a batch delivered twice inserts nothing the second time
            models.UniqueConstraint(fields=["probe", "location", "scheduled_at"], name="probe_result_unique"),
        ]
        indexes = [
            # latest results of a probe (per location): WHERE probe_id = ? ORDER BY started_at DESC
            models.Index(fields=["probe", "-started_at"], name="probe_result_latest_idx"),
            # retention and rollups: WHERE started_at < ? / BETWEEN ? AND ?
            models.Index(fields=["started_at"], name="probe_result_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.probe_id}@{self.location_id} {self.started_at:%Y-%m-%d %H:%M:%S}: {self.outcome}"


class RollupPeriod(models.TextChoices):
    MINUTE = "minute", "Minute"
    HOUR = "hour", "Hour"
    DAY = "day", "Day"


class ProbeRollup(models.Model):
    """Uptime and latency of a probe per location and period, kept long after the raw results."""

    probe = models.ForeignKey(Probe, on_delete=models.CASCADE, related_name="rollups")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=8, choices=RollupPeriod.choices)
    bucket = models.DateTimeField()
    total = models.PositiveIntegerField(default=0)
    up = models.PositiveIntegerField(default=0)
    degraded = models.PositiveIntegerField(default=0)
    down = models.PositiveIntegerField(default=0)
    p50_ms = models.FloatField(null=True, blank=True)
    p95_ms = models.FloatField(null=True, blank=True)
    p99_ms = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["probe", "location", "period", "bucket"], name="probe_rollup_unique"),
        ]
        indexes = [
            # charts and uptime bars: WHERE probe_id = ? AND period = ? AND bucket >= ?
            models.Index(fields=["probe", "period", "bucket"], name="probe_rollup_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.probe_id}@{self.location_id} {self.period} {self.bucket:%Y-%m-%d %H:%M}"

    @property
    def uptime(self) -> float | None:
        measured = self.up + self.degraded + self.down
        return None if not measured else (self.up + self.degraded) / measured


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Heartbeat(models.Model):
    """The push side of a heartbeat probe: a cron job or backup script calls
    /health/heartbeat/<token> (optionally /fail, with a short message). The token is
    kept as a SHA-256, looked up through a unique index and shown once."""

    probe = models.OneToOneField(Probe, on_delete=models.CASCADE, related_name="heartbeat")
    token_hash = models.CharField(max_length=64, unique=True)
    token_hint = models.CharField(max_length=8, blank=True)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    last_ping_ok = models.BooleanField(default=True)
    last_message = models.CharField(max_length=500, blank=True)
    pings = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"heartbeat of {self.probe_id}"

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(24)

    def set_token(self, token: str) -> None:
        self.token_hash = hash_token(token)
        self.token_hint = token[:6]


class ServiceSource(models.Model):
    """The internal alert source through which a service's probes reach the alert
    pipeline: one integration per service and recovery policy, created on first use."""

    service = models.ForeignKey("incidents.Service", on_delete=models.CASCADE, related_name="+")
    on_recovery = models.CharField(max_length=12, choices=OnRecovery.choices)
    integration = models.OneToOneField("incidents.Integration", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "on_recovery"], name="service_source_unique")]

    def __str__(self) -> str:
        return f"probes of {self.service_id} ({self.on_recovery})"
