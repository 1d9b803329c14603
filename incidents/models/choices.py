from __future__ import annotations

from django.db import models


class IncidentStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"


class Impact(models.TextChoices):
    """Component impact, with the names of Statuspage's component statuses."""

    OPERATIONAL = "operational", "Operational"
    DEGRADED_PERFORMANCE = "degraded_performance", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"
    UNDER_MAINTENANCE = "under_maintenance", "Under maintenance"


# Worst wins when several incidents touch one service; maintenance ranks below
# real outages so that an outage during maintenance still shows as an outage.
IMPACT_RANK = {
    Impact.OPERATIONAL: 0,
    Impact.UNDER_MAINTENANCE: 1,
    Impact.DEGRADED_PERFORMANCE: 2,
    Impact.PARTIAL_OUTAGE: 3,
    Impact.MAJOR_OUTAGE: 4,
}


class IncidentRole(models.TextChoices):
    COMMANDER = "commander", "Incident commander"
    COMMUNICATIONS = "communications", "Communications lead"
    SCRIBE = "scribe", "Scribe"
    OPERATIONS = "operations", "Operations lead"


class MaintenanceStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    VERIFYING = "verifying", "Verifying"
    COMPLETED = "completed", "Completed"
