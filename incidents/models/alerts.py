"""Alert ingestion: integrations, the raw deliveries they receive, alerts by
fingerprint, their history, and the grouping of alerts into incidents.

Current state (`Alert`, one row per fingerprint) is kept apart from history
(`AlertEvent`, `Delivery`, both append-only) so that replays and reordering can
be judged against the current state without rewriting what arrived.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.integrations.redaction import redact_mapping, redacted_body, redacted_payload
from incidents.models.incident import Incident
from portal.text import clean_url


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager (webhook v4)"
    PAGERDUTY_EVENTS_V2 = "pagerduty_events_v2", "PagerDuty Events API v2 (enqueue)"
    PAGERDUTY_WEBHOOK_V3 = "pagerduty_webhook_v3", "PagerDuty v3 webhooks"
    GENERIC_JSON = "generic_json", "Generic JSON"


class AlertAction(models.TextChoices):
    DECLARE = "declare", "Declare an incident"
    RECORD = "record", "Only record the alert"


class ResolvePolicy(models.TextChoices):
    MONITORING = "monitoring", "Move the incident to monitoring"
    RESOLVE = "resolve", "Resolve the incident"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Integration(models.Model):
    """One source of alerts, with its secret and its routing rules.

    The inbound token (in the URL, as a Bearer token, as the Basic password, or as
    a PagerDuty routing key) is stored only as a SHA-256: it is looked up by hash
    through a unique index and shown once. A PagerDuty v3 signing secret, in
    contrast, must be kept as given because verifying an HMAC needs the secret
    itself; it is never shown again after it is saved.

    routing_rules: a list of {"match": {"labels.team": "billing", "labels.env": "~prod.*"},
        "services": ["slug", ...], "impact": "major_outage", "action": "declare"|"record"};
        the first rule whose matchers all hold wins ("~" makes a regular expression).
    severity_mapping: {"field": "labels.severity", "map": {"critical": 1}, "default": 3}, severities by
        primary key so that renames and re-ranking keep it (see incidents/integrations/severities.py).
    group_by: label names to group alerts by instead of the sender's own group key.
    """

    kind = models.CharField(max_length=32, choices=IntegrationKind.choices)
    name = models.CharField(max_length=120)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_hint = models.CharField(max_length=8, editable=False, blank=True, help_text="First characters, to tell tokens apart.")
    signing_secret = models.CharField(max_length=256, blank=True, help_text="PagerDuty v3 webhook subscription secret.")
    enabled = models.BooleanField(default=True)
    rate_limit_per_minute = models.PositiveIntegerField(default=6000)
    default_action = models.CharField(max_length=8, choices=AlertAction.choices, default=AlertAction.DECLARE)
    resolve_policy = models.CharField(max_length=12, choices=ResolvePolicy.choices, default=ResolvePolicy.RESOLVE)
    reopen_window = models.DurationField(default=timedelta(minutes=30), help_text="A trigger within this time after resolution reopens the last incident.")
    routing_rules = models.JSONField(default=list, blank=True)
    severity_mapping = models.JSONField(default=dict, blank=True)
    group_by = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @staticmethod
    def new_token() -> str:
        # 32 hex characters: the length PagerDuty senders require of a routing key.
        return secrets.token_hex(16)

    def set_token(self, token: str) -> None:
        self.token_hash = hash_token(token)
        self.token_hint = token[:6]

    def matches_token(self, token: str) -> bool:
        return secrets.compare_digest(self.token_hash, hash_token(token))


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"
    DUPLICATE = "duplicate", "Duplicate"


class Delivery(models.Model):
    """What a sender posted, kept raw. Append-only but for the processing fields."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="deliveries")
    received_at = models.DateTimeField(default=timezone.now)
    body = models.TextField()
    headers = models.JSONField(default=dict, blank=True)
    # The sender's own delivery id (PagerDuty X-Webhook-Id) and a key the portal had
    # to assign (a PagerDuty trigger without dedup_key), fixed at receipt so that
    # processing the delivery again gives the same answer.
    external_id = models.CharField(max_length=128, blank=True)
    assigned_key = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # A sample sent from the integrations page: its incident is marked as a test,
    # never pages, and resolves itself. Only the portal sets it, never a sender.
    is_test = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            # the integration page: an integration's last deliveries
            models.Index(fields=["integration", "-id"], name="delivery_integration_idx"),
            # the sweeper: WHERE status = 'pending' AND received_at < ?
            models.Index(fields=["received_at"], condition=models.Q(status="pending"), name="delivery_pending_idx"),
            # X-Webhook-Id de-duplication
            models.Index(fields=["integration", "external_id"], condition=~models.Q(external_id=""), name="delivery_external_idx"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"

    # What pages and the API show of the raw body: never `body` itself, which can
    # hold the sender's credentials (a PagerDuty routing key is the integration's secret).
    @property
    def shown_body(self) -> str:
        return redacted_body(self.body)

    @property
    def shown_payload(self) -> object:
        return redacted_payload(self.body)


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class AlertGroup(models.Model):
    """The incident opened for a group key. At most one is open per key: the partial
    unique constraint makes two workers racing on the same group agree on one."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="groups")
    group_key = models.CharField(max_length=512)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alert_groups")
    is_open = models.BooleanField(default=True)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "group_key"], condition=models.Q(is_open=True), name="one_open_incident_per_group_key"
            )
        ]
        indexes = [
            # the last group of a key, to reopen within the window
            models.Index(fields=["integration", "group_key", "-id"], name="alertgroup_key_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.group_key} → {self.incident.reference}"


class Alert(models.Model):
    """Current state of one alert, by the sender's fingerprint or dedup key."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="alerts")
    fingerprint = models.CharField(max_length=255)
    group_key = models.CharField(max_length=512)
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.FIRING)
    title = models.CharField(max_length=500)
    severity = models.CharField(max_length=32, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    source_url = models.URLField(max_length=1000, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    # The sender's time of the last transition applied: anything older is stale.
    last_transition_at = models.DateTimeField()
    last_received_at = models.DateTimeField(default=timezone.now)
    last_delivery = models.ForeignKey(Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-last_received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["integration", "fingerprint"], name="alert_fingerprint_unique")]
        indexes = [
            # "is every alert of the group resolved?": WHERE integration_id = ? AND group_key = ? AND status <> 'resolved'
            models.Index(fields=["integration", "group_key", "status"], name="alert_group_status_idx"),
            # the alerts list, filtered by status, newest first
            models.Index(fields=["status", "-last_received_at"], name="alert_status_idx"),
            # the war room: an incident's alerts
            models.Index(fields=["incident", "status"], name="alert_incident_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title} [{self.status}]"

    @property
    def received_at(self) -> object:
        # The dashboard's feed names the time an item arrived `received_at`.
        return self.last_received_at

    @property
    def safe_source_url(self) -> str:
        # Parsers store only http(s) links; rows stored before they did are checked
        # again here, so no `javascript:` link ever reaches an href.
        return clean_url(self.source_url, max_length=1000)

    # Labels and annotations as pages show them: senders put credentials in them too
    # (PagerDuty custom_details), and they are redacted like any stored payload.
    @property
    def shown_labels(self) -> dict[str, str]:
        return redact_mapping(self.labels)

    @property
    def shown_annotations(self) -> dict[str, str]:
        return redact_mapping(self.annotations)

    @property
    def is_firing(self) -> bool:
        return self.status != AlertStatus.RESOLVED


class AlertEvent(models.Model):
    """History of one alert: each transition applied, once. `external_id` (the sender's
    event id, or the transition's own time) makes a replay unable to add a second row."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    delivery = models.ForeignKey(Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="alert_events")
    status = models.CharField(max_length=16, choices=AlertStatus.choices)
    kind = models.CharField(max_length=32, default="transition")
    external_id = models.CharField(max_length=128)
    occurred_at = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["alert", "external_id"], name="alertevent_once")]
        indexes = [models.Index(fields=["delivery"], name="alertevent_delivery_idx")]  # a delivery's effects

    def __str__(self) -> str:
        return f"{self.alert_id} {self.status} @ {self.occurred_at:%Y-%m-%d %H:%M:%S}"

