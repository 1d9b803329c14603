from __future__ import annotations

from django.db import models

from incidents.models.choices import IncidentStatus


class MessageTemplateKind(models.TextChoices):
    INITIAL = "initial", "Initial notification"
    UPDATE = "update", "Update"
    RESOLUTION = "resolution", "Resolution"
    MAINTENANCE_NOTICE = "maintenance_notice", "Maintenance notice"
    MAINTENANCE_START = "maintenance_start", "Maintenance start"
    MAINTENANCE_COMPLETION = "maintenance_completion", "Maintenance completion"


class MessageTemplate(models.Model):
    """A reusable public message; its placeholders (`{title}`, `{services}`, ...) are
    listed and filled in by `incidents.templating`, and checked when it is saved."""

    kind = models.CharField(max_length=24, choices=MessageTemplateKind.choices)
    name = models.CharField(max_length=120, unique=True)
    status = models.CharField(max_length=16, choices=IncidentStatus.choices, blank=True)
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name
