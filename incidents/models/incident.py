"""Incidents, their impacted services, roles, timeline and public updates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.models.catalog import Service, Severity, Tag
from incidents.models.choices import Impact, IncidentRole, IncidentStatus, Visibility

REFERENCE_PREFIX = "INC-"


class IncidentQuerySet(models.QuerySet["Incident"]):
    def open(self) -> IncidentQuerySet:
        return self.exclude(status=IncidentStatus.RESOLVED)

    def public(self) -> IncidentQuerySet:
        return self.filter(visibility=Visibility.PUBLIC)


class Incident(models.Model):
    """An incident. Its reference is INC-<id>: the primary key is already unique and
    race-free, so no counter row needs locking when incidents are declared at once."""

    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="incidents")
    status = models.CharField(max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.INVESTIGATING)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.INTERNAL)
    started_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    identified_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    services = models.ManyToManyField(Service, through="IncidentService", related_name="incidents", blank=True)
    tags = models.ManyToManyField(Tag, related_name="incidents", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # the open-incidents list and dashboard: WHERE status <> 'resolved' ORDER BY id DESC
            models.Index(fields=["status", "-id"], name="incident_status_idx"),
            # list filtered by severity, newest first
            models.Index(fields=["severity", "-id"], name="incident_severity_idx"),
            # public history and uptime: public incidents by start time
            models.Index(fields=["visibility", "-started_at"], name="incident_public_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        return f"{REFERENCE_PREFIX}{self.pk}"

    @staticmethod
    def id_from_reference(reference: str) -> int | None:
        text = reference.strip().upper()
        if text.startswith(REFERENCE_PREFIX):
            text = text[len(REFERENCE_PREFIX) :]
        # isascii: str.isdigit() also accepts digits int() refuses, such as '²'
        return int(text) if text.isascii() and text.isdigit() and len(text) < 18 else None

    @property
    def is_open(self) -> bool:
        return self.status != IncidentStatus.RESOLVED

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC

    @property
    def response_due_at(self) -> Any:
        return self.started_at + self.severity.response_target

    def response_target_breached(self, now: Any = None) -> bool:
        """The one breach rule: the target is met by the first human action (the
        acknowledgement); until then it is judged against `now`."""
        from django.utils import timezone

        reached = self.acknowledged_at or now or timezone.now()
        return bool(reached > self.response_due_at)

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return self.acknowledged_at - self.started_at if self.acknowledged_at else None

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self.resolved_at - self.started_at if self.resolved_at else None


class IncidentService(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="impacts")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="impacts")
    impact = models.CharField(max_length=24, choices=Impact.choices, default=Impact.PARTIAL_OUTAGE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service__display_order", "service__name"]
        constraints = [models.UniqueConstraint(fields=["incident", "service"], name="incident_service_unique")]
        indexes = [
            # a service's incidents (service page, status derivation)
            models.Index(fields=["service", "incident"], name="incidentservice_service_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.incident.reference}: {self.service} {self.impact}"


class RoleAssignment(models.Model):
    """Role history: the current holder of a role is the row with no `ended_at`.

    The partial unique constraint lets the database refuse two current holders of
    one role even when two assignments race.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(max_length=16, choices=IncidentRole.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="incident_roles")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["incident", "role", "-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "role"], condition=models.Q(ended_at__isnull=True), name="one_current_holder_per_role"
            )
        ]
        indexes = [
            # "my incidents": current roles of a user
            models.Index(fields=["user", "ended_at"], name="roleassignment_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.incident.reference} {self.role}: {self.user}"


class TimelineKind(models.TextChoices):
    DECLARED = "declared", "Declared"
    STATUS_CHANGE = "status_change", "Status change"
    SEVERITY_CHANGE = "severity_change", "Severity change"
    ROLE_CHANGE = "role_change", "Role change"
    IMPACT_CHANGE = "impact_change", "Impact change"
    VISIBILITY_CHANGE = "visibility_change", "Visibility change"
    NOTE = "note", "Note"
    PUBLIC_UPDATE = "public_update", "Public update"
    ALERT = "alert", "Alert"
    PROBE = "probe", "Probe"
    RUNBOOK_STEP = "runbook_step", "Runbook step"
    SYSTEM = "system", "System"


class ImmutableTimelineError(RuntimeError):
    pass


class TimelineQuerySet(models.QuerySet["TimelineEvent"]):
    def update(self, **kwargs: Any) -> int:
        if set(kwargs) - {"pinned"}:
            raise ImmutableTimelineError("Timeline events are append-only; only `pinned` can change.")
        return super().update(**kwargs)

    def delete(self) -> Any:
        raise ImmutableTimelineError("Timeline events are append-only and cannot be deleted.")

    delete.queryset_only = True  # type: ignore[attr-defined]


class TimelineEvent(models.Model):
    """An append-only event. A correction is a new event; only the pinned flag changes.

    PostgreSQL enforces the same with a trigger (migration 0002), so that no code
    path, raw SQL included, can rewrite history.
    """

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="timeline")
    kind = models.CharField(max_length=24, choices=TimelineKind.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    occurred_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    pinned = models.BooleanField(default=False)
    body = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = TimelineQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # the timeline page: WHERE incident_id = ? ORDER BY occurred_at DESC, id DESC (cursor)
            models.Index(fields=["incident", "-occurred_at", "-id"], name="timeline_incident_idx"),
            # pinned events on top of the war room
            models.Index(fields=["incident"], condition=models.Q(pinned=True), name="timeline_pinned_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.occurred_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            update_fields = kwargs.get("update_fields")
            if update_fields is None or set(update_fields) - {"pinned"}:
                raise ImmutableTimelineError("Timeline events are append-only; only `pinned` can change.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableTimelineError("Timeline events are append-only and cannot be deleted.")


class PublicUpdate(models.Model):
    """What the public sees: a status and a Markdown message, rendered and sanitised once."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="public_updates")
    status = models.CharField(max_length=16, choices=IncidentStatus.choices)
    body = models.TextField()
    body_html = models.TextField(editable=False)
    display_at = models.DateTimeField(default=timezone.now)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-display_at", "-id"]
        indexes = [models.Index(fields=["incident", "-display_at"], name="publicupdate_incident_idx")]

    def __str__(self) -> str:
        return f"{self.incident.reference} {self.status} @ {self.display_at:%Y-%m-%d %H:%M}"


class PublicUpdateComponent(models.Model):
    update = models.ForeignKey(PublicUpdate, on_delete=models.CASCADE, related_name="components")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    old_status = models.CharField(max_length=24, choices=Impact.choices)
    new_status = models.CharField(max_length=24, choices=Impact.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["update", "service"], name="publicupdate_component_unique")]

    def __str__(self) -> str:
        return f"{self.service}: {self.old_status} → {self.new_status}"
