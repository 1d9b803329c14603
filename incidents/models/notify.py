"""Contact methods, notification rules, outgoing channels and the delivery log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.models.catalog import Severity
from incidents.models.incident import Incident
from incidents.models.messaging import MessageTemplate, MessageTemplateKind


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack (incoming webhook)"
    TEAMS = "teams", "Microsoft Teams (incoming webhook)"
    WEBHOOK = "webhook", "Webhook (signed)"
    PAGERDUTY = "pagerduty", "PagerDuty Events API v2"


class ContactMethod(models.Model):
    """Where a person can be reached: an email address or a webhook URL."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods")
    kind = models.CharField(max_length=16, choices=[c for c in ChannelKind.choices if c[0] != ChannelKind.PAGERDUTY])
    label = models.CharField(max_length=120, blank=True)
    target = models.CharField(max_length=500, help_text="Email address or webhook URL.")
    secret = models.CharField(max_length=200, blank=True, help_text="Signing secret (webhooks).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user", "id"]
        indexes = [models.Index(fields=["user"], name="contactmethod_user_idx")]  # my notification settings

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.target}"


class NotificationRule(models.Model):
    """Notify through this method after this delay, unless the incident is acknowledged by then."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_rules")
    contact_method = models.ForeignKey(ContactMethod, on_delete=models.CASCADE, related_name="rules")
    delay_minutes = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["user", "delay_minutes", "id"]
        indexes = [models.Index(fields=["user"], name="notificationrule_user_idx")]

    def __str__(self) -> str:
        return f"{self.contact_method} after {self.delay_minutes} min"


class Channel(models.Model):
    """An organisation-wide outgoing channel told about incidents of chosen severities:
    a Slack or Teams channel, a signed webhook, or a PagerDuty service (trigger,
    acknowledge and resolve with one dedup key per incident)."""

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=[c for c in ChannelKind.choices if c[0] != ChannelKind.EMAIL])
    url = models.CharField(max_length=500, help_text="Webhook URL, or the PagerDuty Events API v2 endpoint.")
    routing_key = models.CharField(max_length=64, blank=True, help_text="PagerDuty integration key.")
    secret = models.CharField(max_length=200, blank=True, help_text="Signing secret (webhooks).")
    severities = models.ManyToManyField(Severity, related_name="+", blank=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Notification(models.Model):
    """Something to tell people: a page, an incident change, a reminder."""

    class Kind(models.TextChoices):
        PAGE = "page", "Page"
        INCIDENT = "incident", "Incident change"
        REMINDER = "reminder", "Reminder"
        PUBLIC = "public", "Status page update"
        SUBSCRIPTION = "subscription", "Subscription confirmation"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=32, blank=True, help_text="trigger, acknowledge, resolve, ...")
    subject = models.CharField(max_length=250)
    body = models.TextField(blank=True)
    # the incident as it was when this was created (a delivery retried later still says "triggered at SEV1")
    details = models.JSONField(default=dict, blank=True)
    # What a status page announcement is for (`maintenance:7:started`, `update:42`): unique, so an
    # event handled twice or a redelivered sweep announces it once.
    key = models.CharField(max_length=120, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.subject


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class NotificationDelivery(models.Model):
    """One message to one recipient through one channel: the delivery log.

    `idempotency_key` (notification, recipient) is unique, so a retried enqueue never
    makes a second row; it is also sent along (Idempotency-Key header, Message-ID)
    so that a receiver can drop the duplicate an at-least-once retry may cause."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="notification_deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    subscriber = models.ForeignKey("incidents.StatusSubscriber", null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    target = models.CharField(max_length=500)
    secret = models.CharField(max_length=200, blank=True)
    routing_key = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    cancel_if_acknowledged = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # the sweeper: WHERE state IN ('pending', 'sending') AND next_attempt_at <= now
            models.Index(fields=["state", "next_attempt_at"], name="delivery_due_idx"),
            # the delivery log of an incident, newest first
            models.Index(fields=["incident", "-created_at"], name="delivery_incident_idx"),
            # the delivery log of a channel
            models.Index(fields=["channel", "-created_at"], name="delivery_channel_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.target} ({self.state})"


class StatusSubscriber(models.Model):
    """A member of the public following the status page by email (double opt-in) or webhook.

    `token` is the secret in the confirm and unsubscribe links; the address is never
    shown publicly. No components chosen means every public component."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    address = models.CharField(max_length=500, help_text="Email address or webhook URL.")
    token = models.CharField(max_length=64, unique=True, editable=False)
    components = models.ManyToManyField("incidents.Service", related_name="+", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["kind", "address"], name="status_subscriber_unique")]
        indexes = [
            # who gets a public update: WHERE confirmed_at IS NOT NULL AND unsubscribed_at IS NULL
            models.Index(fields=["confirmed_at", "unsubscribed_at"], name="subscriber_active_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} subscriber {self.pk}"

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class SubscriberMessage(models.Model):
    """Which message template status page subscribers receive for one kind of public
    change (incident public, update, resolution, maintenance notice, start, completion).
    No row for a kind: the built-in wording in `incidents.notify.announce`."""

    kind = models.CharField(max_length=24, choices=MessageTemplateKind.choices, unique=True)
    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.template}"
