"""Writes to the catalogue: services, service groups, severities, message templates.

Every write cleans its text, changes the rows in one transaction, records who
changed what (an INFO line on the `incidents.audit` logger, with the fields that
changed, before and after) and publishes a `catalog.*` domain event after commit:
the public snapshot rebuilds when what the public sees may have changed, and the
dashboards refresh.

The observed status that automated checks (health probes) push is written here
too (`service_set_observed_status`).

Incidents keep their severity and the services they named for good (history is
not rewritten), so such a row cannot be deleted while it is referred to; the
refusal is a 409 that names the incidents, checked with cheap queries before
Django's collector would load every referring row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from incidents import events
from incidents.models import (
    Impact,
    Incident,
    MessageTemplate,
    Service,
    ServiceGroup,
    ServiceLink,
    Severity,
    Visibility,
)
from portal.errors import Conflict, ValidationFailed
from portal.text import clean_text, clean_url

audit = logging.getLogger("incidents.audit")

SHOWN = 10
M = TypeVar("M", bound=models.Model)


class InUse(Conflict):
    code = "in_use"


def _refuse_if_used(incidents: QuerySet[Incident], what: str, advice: str) -> None:
    ids = list(incidents.order_by("-pk").values_list("pk", flat=True).distinct()[: SHOWN + 1])
    if not ids:
        return
    total = len(ids) if len(ids) <= SHOWN else incidents.values("pk").distinct().count()
    refs = [f"INC-{pk}" for pk in ids[:SHOWN]]
    listed = ", ".join(refs) + (f" and {total - SHOWN} more" if total > SHOWN else "")
    noun = "incident" if total == 1 else "incidents"
    raise InUse(
        f"{what} is used by {total} {noun} ({listed}); {advice}",
        used_by={"incidents": refs},
        count=total,
    )


@transaction.atomic
def severity_delete(*, severity: Severity, by: Any) -> None:
    locked = Severity.objects.select_for_update().filter(pk=severity.pk).first()
    if locked is None:
        return  # already gone
    severity = locked
    _refuse_if_used(
        Incident.objects.filter(severity=severity),
        f"Severity {severity.name}",
        "incidents keep their severity, so rename or retarget it instead of deleting it.",
    )
    pk = severity.pk
    severity.delete()
    _record("severity", "deleted", pk, severity.name, by, {})


@transaction.atomic
def service_delete(*, service: Service, by: Any) -> None:
    locked = Service.objects.select_for_update().filter(pk=service.pk).first()
    if locked is None:
        return  # already gone
    service = locked
    _refuse_if_used(
        Incident.objects.filter(Q(impacts__service=service) | Q(public_updates__components__service=service)),
        f"Service {service.name}",
        "incidents keep the services they named, so make it internal or rename it instead of deleting it.",
    )
    pk, public = service.pk, service.visibility == Visibility.PUBLIC
    service.delete()
    _record("service", "deleted", pk, service.slug, by, {}, public=public)


# --- create and update -----------------------------------------------------------------


def _clean(model: type[models.Model], fields: dict[str, Any]) -> dict[str, Any]:
    """Text through the one cleaner: names on one line, descriptions and bodies
    multi-line, both cut to the column's length."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        field = model._meta.get_field(name)
        if isinstance(value, str) and isinstance(field, (models.CharField, models.TextField)):
            multiline = isinstance(field, models.TextField)
            value = clean_text(value, max_length=field.max_length, multiline=multiline)
            value = value.strip() if multiline else value
        out[name] = value
    return out


def _value(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value.pk)
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _apply(instance: M, fields: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Set the fields, validate the row, and return what changed (from, to)."""
    changes: dict[str, dict[str, Any]] = {}
    for name, value in _clean(type(instance), fields).items():
        before = getattr(instance, name)
        if before != value:
            changes[name] = {"from": _value(before), "to": _value(value)}
            setattr(instance, name, value)
    try:
        instance.full_clean()
    except ValidationError as error:
        raise ValidationFailed("The values are not valid.", fields=error.message_dict) from error
    return changes


def _record(
    kind: str, verb: str, pk: int, label: str, by: Any, changes: dict[str, Any], *, public: bool = False
) -> None:
    user = getattr(by, "username", None) or "system"
    audit.info("%s %s %s (%s) by %s: %s", kind, label, verb, pk, user, changes)
    events.publish(f"catalog.{kind}_{verb}", public=public, id=pk, by=user, fields=",".join(sorted(changes)))


def _lock(model: type[M], instance: M) -> M:
    locked = model._default_manager.select_for_update().filter(pk=instance.pk).first()
    if locked is None:
        raise Conflict(f"The {model._meta.verbose_name} was deleted meanwhile.")
    return locked


# Services ----------------------------------------------------------------------------


def _link_key(link: Mapping[str, Any]) -> tuple[str, str, str]:
    return (link["kind"], link["label"], link["url"])


def _service_relations(
    service: Service, links: Iterable[dict[str, Any]] | None, depends_on: Iterable[Service] | None
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if links is not None:
        cleaned = [
            {
                "kind": link.get("kind") or ServiceLink.Kind.OTHER,
                "label": clean_text(link.get("label", ""), max_length=120),
                "url": clean_url(link.get("url", ""), max_length=500),
            }
            for link in links
        ]
        before = list(service.links.order_by("pk").values("kind", "label", "url"))
        if sorted(map(_link_key, before)) != sorted(map(_link_key, cleaned)):
            service.links.all().delete()
            ServiceLink.objects.bulk_create([ServiceLink(service=service, **link) for link in cleaned])
            changes["links"] = {"from": len(before), "to": len(cleaned)}
    if depends_on is not None:
        depends = list(depends_on)
        if any(other.pk == service.pk for other in depends):
            raise ValidationFailed("A service cannot depend on itself.", fields={"depends_on": ["A service cannot depend on itself."]})
        before_slugs = sorted(service.depends_on.values_list("slug", flat=True))
        after_slugs = sorted(other.slug for other in depends)
        if before_slugs != after_slugs:
            service.depends_on.set(depends)
            changes["depends_on"] = {"from": before_slugs, "to": after_slugs}
    return changes


@transaction.atomic
def service_create(
    *, by: Any, links: Iterable[dict[str, Any]] | None = None, depends_on: Iterable[Service] | None = None, **fields: Any
) -> Service:
    service = Service()
    changes = _apply(service, fields)
    service.save()
    changes.update(_service_relations(service, links, depends_on))
    _record("service", "created", service.pk, service.slug, by, changes, public=service.visibility == Visibility.PUBLIC)
    return service


@transaction.atomic
def service_update(
    *,
    service: Service,
    by: Any,
    links: Iterable[dict[str, Any]] | None = None,
    depends_on: Iterable[Service] | None = None,
    **fields: Any,
) -> Service:
    service = _lock(Service, service)
    was_public = service.visibility == Visibility.PUBLIC
    changes = _apply(service, fields)
    if changes:
        service.save()
    changes.update(_service_relations(service, links, depends_on))
    if changes:
        public = was_public or service.visibility == Visibility.PUBLIC
        _record("service", "updated", service.pk, service.slug, by, changes, public=public)
    return service


# Service groups: the public page shows its components under their groups. ----------------


@transaction.atomic
def service_group_create(*, by: Any, **fields: Any) -> ServiceGroup:
    group = ServiceGroup()
    changes = _apply(group, fields)
    group.save()
    _record("service_group", "created", group.pk, group.slug, by, changes, public=True)
    return group


@transaction.atomic
def service_group_update(*, group: ServiceGroup, by: Any, **fields: Any) -> ServiceGroup:
    group = _lock(ServiceGroup, group)
    changes = _apply(group, fields)
    if changes:
        group.save()
        _record("service_group", "updated", group.pk, group.slug, by, changes, public=True)
    return group


@transaction.atomic
def service_group_delete(*, group: ServiceGroup, by: Any) -> None:
    locked = ServiceGroup.objects.select_for_update().filter(pk=group.pk).first()
    if locked is None:
        return  # already gone
    pk = locked.pk
    locked.delete()  # its services stay, ungrouped
    _record("service_group", "deleted", pk, locked.slug, by, {}, public=True)


# Severities: the public JSON derives an incident's impact from the severity's rank. ------


@transaction.atomic
def severity_create(*, by: Any, **fields: Any) -> Severity:
    severity = Severity()
    changes = _apply(severity, fields)
    severity.save()
    _record("severity", "created", severity.pk, severity.name, by, changes, public=True)
    return severity


@transaction.atomic
def severity_update(*, severity: Severity, by: Any, **fields: Any) -> Severity:
    severity = _lock(Severity, severity)
    changes = _apply(severity, fields)
    if changes:
        severity.save()
        _record("severity", "updated", severity.pk, severity.name, by, changes, public=True)
    return severity


# Message templates: used by responders, never shown as such to the public. --------------


@transaction.atomic
def message_template_create(*, by: Any, **fields: Any) -> MessageTemplate:
    template = MessageTemplate()
    changes = _apply(template, fields)
    template.save()
    _record("message_template", "created", template.pk, template.name, by, changes)
    return template


@transaction.atomic
def message_template_update(*, template: MessageTemplate, by: Any, **fields: Any) -> MessageTemplate:
    template = _lock(MessageTemplate, template)
    changes = _apply(template, fields)
    if changes:
        template.save()
        _record("message_template", "updated", template.pk, template.name, by, changes)
    return template


@transaction.atomic
def message_template_delete(*, template: MessageTemplate, by: Any) -> None:
    locked = MessageTemplate.objects.select_for_update().filter(pk=template.pk).first()
    if locked is None:
        return
    pk = locked.pk
    locked.delete()
    _record("message_template", "deleted", pk, locked.name, by, {})


OBSERVABLE = (Impact.OPERATIONAL, Impact.DEGRADED_PERFORMANCE, Impact.PARTIAL_OUTAGE, Impact.MAJOR_OUTAGE)


@transaction.atomic
def service_set_observed_status(*, service: Service | int, status: str, at: datetime | None = None) -> bool:
    """Record what automated checks observe of a service ("" when nothing observes it
    any more). Returns whether it changed; a change is published after commit, so the
    dashboard and the status page show it. Older observations than the stored one are
    ignored, so a late writer cannot put back a stale status."""
    if status and status not in OBSERVABLE:
        raise ValidationFailed("Unknown observed status.", fields={"status": [f"One of {', '.join(OBSERVABLE)} or blank."]})
    pk = service if isinstance(service, int) else service.pk
    at = at or timezone.now()
    row = Service.objects.select_for_update().filter(pk=pk).values("observed_status", "observed_at", "visibility").first()
    if row is None or (row["observed_at"] is not None and at < row["observed_at"]):
        return False
    if row["observed_status"] == status:
        Service.objects.filter(pk=pk).update(observed_at=at)
        return False
    # updated_at moves too: the status page's "last changed" time reads it.
    Service.objects.filter(pk=pk).update(observed_status=status, observed_at=at, updated_at=timezone.now())
    events.publish("service.observed_status", public=row["visibility"] == "public", service_id=pk, status=status)
    return True
