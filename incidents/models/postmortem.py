from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from incidents.models.incident import Incident


class PostmortemStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"


class PostmortemTemplate(models.Model):
    """Sections as a list of {"key", "title", "required", "prompt"}, in order; the default
    one is used when a postmortem is started without naming a template. A postmortem
    copies the sections when it starts, so editing a template never rewrites one."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    sections = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True), name="one_default_postmortem_template")
        ]

    def __str__(self) -> str:
        return self.name


class Postmortem(models.Model):
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="postmortem")
    status = models.CharField(max_length=16, choices=PostmortemStatus.choices, default=PostmortemStatus.DRAFT)
    template = models.ForeignKey(PostmortemTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="postmortems")
    # The impact a team reports: users affected as a count, a share of all users, or
    # both; how long they were affected (which can differ from the incident's own
    # duration); and the revenue lost.
    users_affected = models.PositiveIntegerField(null=True, blank=True)
    users_affected_percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
    )  # fmt: skip
    impact_duration = models.DurationField(null=True, blank=True)
    revenue_impact = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Postmortem {self.incident.reference}"

    @property
    def duration(self) -> timedelta | None:
        """How long the incident lasted (open to resolved)."""
        return self.incident.time_to_resolve

    @property
    def impact_duration_shown(self) -> timedelta | None:
        """How long users were affected: as reported, else the incident's duration."""
        return self.impact_duration if self.impact_duration is not None else self.duration

    @property
    def impact_duration_text(self) -> str:
        return duration_text(self.impact_duration_shown)

    @property
    def users_affected_percent_text(self) -> str:
        """12.50 as "12.5", 20.00 as "20"."""
        value = self.users_affected_percent
        return "" if value is None else f"{Decimal(value).normalize():f}"

    @property
    def duration_text(self) -> str:
        return duration_text(self.duration)


def duration_text(duration: timedelta | None) -> str:
    """"2 h 5 min", "45 min", "3 d 4 h": how pages show a duration."""
    if duration is None:
        return ""
    minutes = int(duration.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes and not days else ""]
    return " ".join(p for p in parts if p) or "0 min"


class PostmortemSection(models.Model):
    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="sections")
    key = models.SlugField(max_length=64)
    title = models.CharField(max_length=120)
    prompt = models.TextField(blank=True)
    body = models.TextField(blank=True)
    required = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["postmortem", "position"]
        constraints = [models.UniqueConstraint(fields=["postmortem", "key"], name="postmortem_section_unique")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_empty(self) -> bool:
        return not self.body.strip()


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"


class ActionItemPriority(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class ActionItem(models.Model):
    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="action_items")
    due_date = models.DateField(null=True, blank=True)
    priority = models.CharField(max_length=8, choices=ActionItemPriority.choices, default=ActionItemPriority.MEDIUM)
    status = models.CharField(max_length=16, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN)
    external_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["status", "due_date", "id"]
        indexes = [
            # "my open action items"
            models.Index(fields=["owner", "status"], name="actionitem_owner_idx"),
        ]

    def __str__(self) -> str:
        return self.title
