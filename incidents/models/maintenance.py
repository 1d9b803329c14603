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
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-scheduled_start"]
        constraints = [
            models.CheckConstraint(condition=models.Q(scheduled_end__gt=models.F("scheduled_start")), name="maintenance_end_after_start")
        ]
        indexes = [
            # upcoming and active windows: WHERE status <> 'completed' ORDER BY scheduled_start
            models.Index(fields=["status", "scheduled_start"], name="maintenance_status_idx"),
        ]

    def __str__(self) -> str:
        return self.title
