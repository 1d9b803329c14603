"""The configuration document's `postmortem_templates` section: each template's
name, description, whether it is the default, and its ordered sections. Writes
go through the postmortem template services (cleaning, an audit line, an event)."""

from __future__ import annotations

import re
from typing import Any

from incidents.models import PostmortemTemplate
from incidents.services import postmortem_templates as template_services
from portal.config.sections import ItemError
from portal.errors import ValidationFailed
from portal.text import clean_text

_NESTED = re.compile(r"^sections\.(\d+)")


class PostmortemTemplates:
    name = "postmortem_templates"
    key = "name"
    item_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "sections"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": template_services.MAX_NAME},
            "description": {"type": "string", "maxLength": template_services.MAX_DESCRIPTION},
            "default": {"type": "boolean", "description": "Used when a postmortem starts without naming a template; one at most."},
            "sections": {
                "type": "array",
                "minItems": 1,
                "maxItems": template_services.MAX_SECTIONS,
                "description": "In the order a postmortem shows them.",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["title"],
                    "properties": {
                        "key": {"type": "string", "pattern": "^[-a-z0-9_]+$", "maxLength": template_services.MAX_KEY,
                                "description": "Names the section in a postmortem; made from the title when left out."},
                        "title": {"type": "string", "minLength": 1, "maxLength": template_services.MAX_SECTION_TITLE},
                        "required": {"type": "boolean", "description": "Must be filled in before publishing."},
                        "prompt": {"type": "string", "maxLength": template_services.MAX_HELP, "description": "Help text."},
                    },
                },
            },
        },
    }  # fmt: skip

    def export(self) -> list[dict[str, Any]]:
        return [self._row(t) for t in PostmortemTemplate.objects.order_by("name")]

    @staticmethod
    def _row(template: PostmortemTemplate) -> dict[str, Any]:
        sections = [{"key": s["key"], "title": s["title"], "required": bool(s.get("required")), "prompt": s.get("prompt", "")}
                    for s in template.sections]  # fmt: skip
        return {"name": template.name, "description": template.description, "default": template.is_default, "sections": sections}

    def normalise(self, item: dict[str, Any]) -> dict[str, Any]:
        try:
            sections = template_services.clean_sections(item["sections"])
        except ValidationFailed as exc:
            # The document's paths: sections[2].key, as the JSON Schema's errors read.
            fields = {_NESTED.sub(r"sections[\1]", name): messages for name, messages in exc.fields.items()}
            raise ValidationFailed(exc.message, fields=fields) from None
        return {"name": clean_text(item["name"], max_length=template_services.MAX_NAME),
                "description": clean_text(item.get("description", ""), max_length=template_services.MAX_DESCRIPTION, multiline=True),
                "default": bool(item.get("default", False)), "sections": sections}  # fmt: skip

    def write(self, item: dict[str, Any], *, by: Any) -> None:
        data = self.normalise(item)
        fields = {"description": data["description"], "sections": data["sections"], "is_default": data["default"]}
        template = PostmortemTemplate.objects.filter(name=data["name"]).first()
        if template is None:
            template_services.postmortem_template_create(by=by, name=data["name"], **fields)
        else:
            template_services.postmortem_template_update(template=template, by=by, **fields)

    def finish(self, items: list[dict[str, Any]], *, by: Any) -> None:
        defaults = [index for index, item in enumerate(items) if item.get("default")]
        if len(defaults) > 1:
            raise ItemError(f"only one template can be the default (also [{defaults[0]}])", f"[{defaults[1]}].default")

    def delete(self, key: str, *, by: Any) -> None:
        template = PostmortemTemplate.objects.filter(name=key).first()
        if template is not None:
            template_services.postmortem_template_delete(template=template, by=by)


POSTMORTEM_TEMPLATES = PostmortemTemplates()
