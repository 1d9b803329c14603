"""The incident core's sections of the configuration document: severities,
service groups, services and message templates (see portal/config/runner.py).

Every write goes through the catalogue services, as the API and the admin do: an
audit line per object, and a `catalog.*` event after commit that refreshes the
dashboards and the public snapshot. A dry run rolls back before commit, so it
publishes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from incidents import services, templating
from incidents.models import (
    IncidentStatus,
    MessageTemplate,
    MessageTemplateKind,
    Service,
    ServiceGroup,
    Severity,
    Visibility,
)
from portal.config.sections import ItemError
from portal.models import Team
from portal.text import clean_text

SLUG = {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$", "maxLength": 50}
TEXT = {"type": "string", "maxLength": 20000}
# Ranks are unique; while a document re-ranks severities, displaced rows wait here.
PARKED_RANK = 20000


def _text(value: Any, limit: int, multiline: bool = False) -> str:
    return clean_text(value or "", max_length=limit, multiline=multiline)


class Severities:
    name = "severities"
    key = "name"
    item_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "rank"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 32},
            "rank": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "1 is the most severe."},
            "colour": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
            "description": TEXT,
            "response_target_minutes": {"type": "integer", "minimum": 1, "maximum": 525600},
            "pages": {"type": "boolean"},
        },
    }

    def export(self) -> list[dict[str, Any]]:
        return [self._row(s) for s in Severity.objects.order_by("rank")]

    @staticmethod
    def _row(s: Severity) -> dict[str, Any]:
        return {"name": s.name, "rank": s.rank, "colour": s.colour, "description": s.description,
                "response_target_minutes": int(s.response_target.total_seconds() // 60), "pages": s.pages}  # fmt: skip

    def normalise(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"name": _text(item["name"], 32), "rank": item["rank"], "colour": item.get("colour", "#888888").lower(),
                "description": _text(item.get("description"), 20000, True),
                "response_target_minutes": item.get("response_target_minutes", 1440), "pages": item.get("pages", False)}  # fmt: skip

    def write(self, item: dict[str, Any], *, by: Any) -> None:
        data = self.normalise(item)
        holder = Severity.objects.filter(rank=data["rank"]).exclude(name=data["name"]).first()
        if holder is not None:
            services.severity_update(severity=holder, by=by, rank=PARKED_RANK + holder.rank)
        fields = {"rank": data["rank"], "colour": data["colour"], "description": data["description"],
                  "response_target": timedelta(minutes=data["response_target_minutes"]), "pages": data["pages"]}  # fmt: skip
        severity = Severity.objects.filter(name=data["name"]).first()
        if severity is None:
            services.severity_create(by=by, name=data["name"], **fields)
        else:
            services.severity_update(severity=severity, by=by, **fields)

    def delete(self, key: str, *, by: Any) -> None:
        severity = Severity.objects.filter(name=key).first()
        if severity is not None:
            services.severity_delete(severity=severity, by=by)

    def settle(self) -> list[str]:
        return [
            f"severities: {s.name} (not in the document) holds rank {s.rank - PARKED_RANK} that the document gives "
            "to another severity; prune it or give it another rank"
            for s in Severity.objects.filter(rank__gte=PARKED_RANK)
        ]


class ServiceGroups:
    name = "service_groups"
    key = "slug"
    item_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["slug", "name"],
        "properties": {"slug": SLUG, "name": {"type": "string", "minLength": 1, "maxLength": 120}, "description": TEXT,
                       "display_order": {"type": "integer", "minimum": 0, "maximum": 100000}},  # fmt: skip
    }

    def export(self) -> list[dict[str, Any]]:
        return [{"slug": g.slug, "name": g.name, "description": g.description, "display_order": g.display_order}
                for g in ServiceGroup.objects.order_by("display_order", "slug")]  # fmt: skip

    def normalise(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"slug": item["slug"], "name": _text(item["name"], 120), "description": _text(item.get("description"), 20000, True),
                "display_order": item.get("display_order", 0)}  # fmt: skip

    def write(self, item: dict[str, Any], *, by: Any) -> None:
        data = self.normalise(item)
        group = ServiceGroup.objects.filter(slug=data["slug"]).first()
        if group is None:
            services.service_group_create(by=by, **data)
        else:
            services.service_group_update(group=group, by=by, **data)

    def delete(self, key: str, *, by: Any) -> None:
        group = ServiceGroup.objects.filter(slug=key).first()
        if group is not None:
            services.service_group_delete(group=group, by=by)


class Services:
    name = "services"
    key = "slug"
    item_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["slug", "name"],
        "properties": {
            "slug": SLUG,
            "name": {"type": "string", "minLength": 1, "maxLength": 120},
            "description": TEXT,
            "group": {"anyOf": [SLUG, {"type": "null"}], "description": "A service group's slug."},
            "team": {"anyOf": [SLUG, {"type": "null"}], "description": "A team's slug."},
            "visibility": {"enum": list(Visibility.values)},
            "display_order": {"type": "integer", "minimum": 0, "maximum": 100000},
            "depends_on": {"type": "array", "items": SLUG, "uniqueItems": True},
        },
    }

    def export(self) -> list[dict[str, Any]]:
        rows = Service.objects.select_related("group", "team").prefetch_related("depends_on").order_by("display_order", "slug")
        return [
            {"slug": s.slug, "name": s.name, "description": s.description, "group": s.group.slug if s.group else None,
             "team": s.team.slug if s.team else None, "visibility": s.visibility, "display_order": s.display_order,
             "depends_on": sorted(d.slug for d in s.depends_on.all())}
            for s in rows
        ]  # fmt: skip

    def normalise(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"slug": item["slug"], "name": _text(item["name"], 120), "description": _text(item.get("description"), 20000, True),
                "group": item.get("group"), "team": item.get("team"), "visibility": item.get("visibility", Visibility.PUBLIC),
                "display_order": item.get("display_order", 0), "depends_on": sorted(item.get("depends_on", []))}  # fmt: skip

    def write(self, item: dict[str, Any], *, by: Any) -> None:
        data = self.normalise(item)
        group = team = None
        if data["group"]:
            group = ServiceGroup.objects.filter(slug=data["group"]).first()
            if group is None:
                raise ItemError(f"no service group {data['group']!r}", "group")
        if data["team"]:
            team = Team.objects.filter(slug=data["team"]).first()
            if team is None:
                raise ItemError(f"no team {data['team']!r}", "team")
        fields = {"name": data["name"], "description": data["description"], "group": group, "team": team,
                  "visibility": data["visibility"], "display_order": data["display_order"]}  # fmt: skip
        service = Service.objects.filter(slug=data["slug"]).first()
        if service is None:
            services.service_create(by=by, slug=data["slug"], **fields)
        else:
            services.service_update(service=service, by=by, **fields)

    def finish(self, items: list[dict[str, Any]], *, by: Any) -> None:
        slugs = dict(Service.objects.values_list("slug", "pk"))
        for index, item in enumerate(items):
            wanted = item.get("depends_on", [])
            unknown = [slug for slug in wanted if slug not in slugs]
            if unknown:
                raise ItemError(f"no service {unknown[0]!r}", f"[{index}].depends_on")
            if item["slug"] in wanted:
                raise ItemError("a service cannot depend on itself", f"[{index}].depends_on")
            service = Service.objects.filter(slug=item["slug"]).first()
            if service is None:
                continue  # its own error is already listed
            if sorted(service.depends_on.values_list("slug", flat=True)) != sorted(wanted):
                services.service_update(service=service, by=by, depends_on=list(Service.objects.filter(slug__in=wanted)))

    def delete(self, key: str, *, by: Any) -> None:
        service = Service.objects.filter(slug=key).first()
        if service is not None:
            services.service_delete(service=service, by=by)


class MessageTemplates:
    name = "message_templates"
    key = "name"
    item_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "kind", "body"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 120},
            "kind": {"enum": list(MessageTemplateKind.values)},
            "status": {"enum": ["", *IncidentStatus.values]},
            "body": {"type": "string", "minLength": 1, "maxLength": 20000},
        },
    }

    def export(self) -> list[dict[str, Any]]:
        return [{"name": t.name, "kind": t.kind, "status": t.status, "body": t.body} for t in MessageTemplate.objects.order_by("kind", "name")]

    def normalise(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"name": _text(item["name"], 120), "kind": item["kind"], "status": item.get("status", ""),
                "body": _text(item["body"], 20000, True)}  # fmt: skip

    def write(self, item: dict[str, Any], *, by: Any) -> None:
        data = self.normalise(item)
        templating.check_body(data["body"], data["kind"])
        template = MessageTemplate.objects.filter(name=data["name"]).first()
        if template is None:
            services.message_template_create(by=by, **data)
        else:
            services.message_template_update(template=template, by=by, **data)

    def delete(self, key: str, *, by: Any) -> None:
        template = MessageTemplate.objects.filter(name=key).first()
        if template is not None:
            services.message_template_delete(template=template, by=by)


SEVERITIES = Severities()
SERVICE_GROUPS = ServiceGroups()
SERVICES = Services()
MESSAGE_TEMPLATES = MessageTemplates()
