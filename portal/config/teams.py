"""The portal's section of the configuration document: teams."""

from __future__ import annotations

from typing import Any

from portal.models import Team
from portal.text import clean_text


class Teams:
    name = "teams"
    key = "slug"
    item_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["slug", "name"],
        "properties": {
            "slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$", "maxLength": 50},
            "name": {"type": "string", "minLength": 1, "maxLength": 120},
            "description": {"type": "string", "maxLength": 20000},
        },
    }

    def export(self) -> list[dict[str, Any]]:
        return [{"slug": t.slug, "name": t.name, "description": t.description} for t in Team.objects.order_by("slug")]

    def normalise(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"slug": item["slug"], "name": clean_text(item["name"], max_length=120),
                "description": clean_text(item.get("description", ""), max_length=20000, multiline=True)}  # fmt: skip

    def write(self, item: dict[str, Any], *, by: Any) -> None:
        data = self.normalise(item)
        Team.objects.update_or_create(slug=data.pop("slug"), defaults=data)

    def delete(self, key: str, *, by: Any) -> None:
        Team.objects.filter(slug=key).delete()


TEAMS = Teams()
