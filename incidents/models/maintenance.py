from __future__ import annotations

from django.conf import settings
from django.db import models

from incidents.models.catalog import Service
from incidents.models.choices import MaintenanceStatus, Visibility


class MaintenanceWindow(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    services = models.ManyToManyField(Service, related_name="maintenance_windows")
    scheduled_start = models.DateTimeField()
    scheduled_end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=MaintenanceStatus.choices, default=MaintenanceStatus.SCHEDULED)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PUBLIC)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Set on windows materialised from a recurrence; the unique constraint below
    # makes materialising twice (two beat runs, two workers) create one window.
    recurrence = models.ForeignKey("MaintenanceRecurrence", null=True, blank=True, on_delete=models.SET_NULL, related_name="windows")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-scheduled_start"]
        constraints = [
            models.CheckConstraint(condition=models.Q(scheduled_end__gt=models.F("scheduled_start")), name="maintenance_end_after_start"),
            models.UniqueConstraint(fields=["recurrence", "scheduled_start"], name="maintenance_once_per_occurrence"),
        ]
        indexes = [
            # upcoming and active windows: WHERE status <> 'completed' ORDER BY scheduled_start
            models.Index(fields=["status", "scheduled_start"], name="maintenance_status_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class MaintenanceRecurrence(models.Model):
    """A maintenance that repeats, as an RFC 5545 rule (python-dateutil), e.g.
    "FREQ=WEEKLY;BYDAY=TU" from a first start of Tuesday 02:00 in `timezone`.
    Its next occurrences are materialised as ordinary windows (so the status page,
    `scheduled-maintenances*.json` and the window's life cycle need nothing new);
    a window knows its recurrence, at most once per start."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    services = models.ManyToManyField(Service, related_name="maintenance_recurrences")
    rule = models.CharField(max_length=500, help_text="RFC 5545 RRULE, e.g. FREQ=MONTHLY;BYDAY=1SU")
    first_start = models.DateTimeField(help_text="The first occurrence; its local time of day repeats.")
    timezone = models.CharField(max_length=64, default="UTC")
    duration = models.DurationField()
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PUBLIC)
    horizon_days = models.PositiveSmallIntegerField(default=35, help_text="Occurrences this far ahead are materialised.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.rule})"
