"""On-call schedules, escalation policies and the stored paging state of incidents."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from incidents.models.catalog import Service, Severity
from incidents.models.incident import Incident


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin).")


class Schedule(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    team = models.ForeignKey("portal.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="schedules")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Rotation(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    CUSTOM = "custom", "Every N hours"


class ScheduleLayer(models.Model):
    """A rotation of people. Layers stack: where a higher layer has someone on call,
    it wins over the layers below (PagerDuty's semantics).

    Daily and weekly handoffs happen at the wall-clock time of `rotation_start` in the
    schedule's time zone, so a 09:00 handoff stays at 09:00 across DST changes;
    custom rotations hand off every `shift_hours` hours of elapsed time."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="layers")
    name = models.CharField(max_length=120, default="Layer")
    priority = models.PositiveSmallIntegerField(default=1, help_text="Higher layers override lower ones.")
    rotation = models.CharField(max_length=8, choices=Rotation.choices, default=Rotation.WEEKLY)
    shift_hours = models.PositiveIntegerField(null=True, blank=True, help_text="Custom rotations only.")
    rotation_start = models.DateTimeField(help_text="The first handoff; its local time is the handoff time.")
    ends_at = models.DateTimeField(null=True, blank=True)
    # Restriction: on call only on these ISO weekdays (1 = Monday) between these local times.
    restrict_weekdays = models.JSONField(default=list, blank=True)
    restrict_start = models.TimeField(null=True, blank=True)
    restrict_end = models.TimeField(null=True, blank=True)

    class Meta:
        ordering = ["schedule", "-priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(rotation="custom") | models.Q(shift_hours__gte=1), name="layer_custom_needs_hours"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schedule}: {self.name}"


class LayerMember(models.Model):
    layer = models.ForeignKey(ScheduleLayer, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["layer", "position"]
        constraints = [models.UniqueConstraint(fields=["layer", "position"], name="layer_member_position_unique")]

    def __str__(self) -> str:
        return f"{self.layer} #{self.position}"


class ScheduleOverride(models.Model):
    """Someone else on call for a time range; the newest override wins where two overlap.
    A swap is two overrides."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["schedule", "starts_at"]
        constraints = [models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="override_ends_after_start")]
        indexes = [
            # who is on call at T: overrides of a schedule overlapping T
            models.Index(fields=["schedule", "ends_at"], name="override_schedule_end_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule}: override {self.starts_at:%Y-%m-%d %H:%M}"


class EscalationPolicy(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    repeat = models.PositiveSmallIntegerField(default=0, help_text="How many more times to run the steps if no one acknowledges.")
    is_default = models.BooleanField(default=False, help_text="Used when neither the severity, the services nor their teams name one.")
    services = models.ManyToManyField(Service, related_name="escalation_policies", blank=True)
    teams = models.ManyToManyField("portal.Team", related_name="escalation_policies", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"

    def __str__(self) -> str:
        return self.name


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    delay_minutes = models.PositiveIntegerField(default=15, help_text="Wait this long before the next step.")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    schedules = models.ManyToManyField(Schedule, related_name="+", blank=True)
    teams = models.ManyToManyField("portal.Team", related_name="+", blank=True)

    class Meta:
        ordering = ["policy", "position"]
        constraints = [models.UniqueConstraint(fields=["policy", "position"], name="escalation_step_position_unique")]

    def __str__(self) -> str:
        return f"{self.policy} step {self.position}"


class SeverityPaging(models.Model):
    """Per severity: its own policy, the update reminder and when the postmortem is due."""

    severity = models.OneToOneField(Severity, on_delete=models.CASCADE, related_name="paging")
    policy = models.ForeignKey(EscalationPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    update_reminder_minutes = models.PositiveIntegerField(null=True, blank=True)
    postmortem_due_hours = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.severity} paging"


class EscalationState(models.TextChoices):
    ACTIVE = "active", "Paging"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    EXHAUSTED = "exhausted", "No one answered"


class Escalation(models.Model):
    """The paging state of one incident: the next step and when it is due.

    A worker claims step N with `UPDATE ... WHERE next_step = N AND state = 'active'`;
    only one UPDATE can match, so a step is paged once however often its task is
    delivered, and a step whose claim was rolled back (a worker died) is still due
    for the sweeper."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="escalation")
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.PROTECT, related_name="escalations")
    state = models.CharField(max_length=16, choices=EscalationState.choices, default=EscalationState.ACTIVE)
    next_step = models.PositiveIntegerField(default=0, help_text="Steps counted across repeats and runs.")
    # A reopened incident pages its policy again: the new run counts on from here, so a
    # step number is never reused (pages stay unique, a late task of the old run matches nothing).
    first_step = models.PositiveIntegerField(default=0, help_text="The step at which the current run began.")
    next_due_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now, help_text="When the current run began.")
    stopped_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # the sweeper: WHERE state = 'active' AND next_due_at <= now
            models.Index(fields=["state", "next_due_at"], name="escalation_due_idx"),
        ]

    def __str__(self) -> str:
        return f"Escalation of incident {self.incident_id} ({self.state})"


class Page(models.Model):
    """One person paged by one step of one escalation (the unique constraint makes it once)."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="pages")
    step = models.PositiveIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pages")
    via = models.CharField(max_length=200, blank=True, help_text="The schedule or team that named this person.")
    paged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["escalation", "step", "id"]
        constraints = [models.UniqueConstraint(fields=["escalation", "step", "user"], name="page_once_per_step")]

    def __str__(self) -> str:
        return f"Page {self.user_id} step {self.step}"


class Reminder(models.Model):
    """A reminder or handoff summary sent once: `key` names what it was for (e.g. `update:4:1767225600:3`)."""

    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders")
    key = models.CharField(max_length=120, unique=True)
    sent_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.key
