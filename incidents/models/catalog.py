"""The service catalogue and the severity scheme."""

from __future__ import annotations

from datetime import timedelta

from django.db import models

from incidents.models.choices import Visibility


class ServiceGroup(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    display_order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_order", "name"]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    group = models.ForeignKey(ServiceGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="services")
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PUBLIC)
    display_order = models.PositiveIntegerField(default=0)
    team = models.ForeignKey("portal.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="services")
    depends_on = models.ManyToManyField(
        "self", through="ServiceDependency", symmetrical=False, related_name="dependents", blank=True
    )
    # What automated checks observe (health probes push it through
    # services.service_set_observed_status); blank when nothing observes the service.
    # Status derivation combines it with open incidents and maintenance windows.
    observed_status = models.CharField(max_length=24, blank=True, default="")
    observed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_order", "name"]
        indexes = [
            # the public status page: public services in display order
            models.Index(fields=["visibility", "display_order"], name="service_public_order_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC


class ServiceDependency(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="dependency_links")
    depends_on = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="dependent_links")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "depends_on"], name="service_dependency_unique"),
            models.CheckConstraint(condition=~models.Q(service=models.F("depends_on")), name="service_not_self_dependent"),
        ]

    def __str__(self) -> str:
        return f"{self.service} → {self.depends_on}"


class ServiceLink(models.Model):
    class Kind(models.TextChoices):
        DASHBOARD = "dashboard", "Dashboard"
        DOCS = "docs", "Documentation"
        REPOSITORY = "repository", "Repository"
        RUNBOOK = "runbook", "Runbook"
        OTHER = "other", "Other"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="links")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    label = models.CharField(max_length=120)
    url = models.URLField(max_length=500)

    class Meta:
        ordering = ["service", "kind", "label"]

    def __str__(self) -> str:
        return self.label


class Severity(models.Model):
    """A configurable severity: rank 1 is the most severe.

    Organisations that call them P0-P3 or P1-P4 rename and retarget the rows;
    incidents refer to the row, so a rename shows everywhere at once.
    """

    name = models.CharField(max_length=32, unique=True)
    rank = models.PositiveSmallIntegerField(unique=True)
    colour = models.CharField(max_length=7, default="#888888", help_text="CSS hex colour, e.g. #d92d20")
    description = models.TextField(blank=True)
    response_target = models.DurationField(default=timedelta(hours=24))
    pages = models.BooleanField(default=False, help_text="Page the on-call responder when declared.")

    class Meta:
        ordering = ["rank"]
        verbose_name_plural = "severities"

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.SlugField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
