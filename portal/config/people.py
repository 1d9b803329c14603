"""The configuration document's `people` section: accounts, their organisation
role, teams and whether they are active. Never passwords.

- Creating a person sends no invitation unless the item says `invite: true`
  (then once, when the account is created; `invite` is not exported). Without
  one the account has no usable password until a manager invites the person
  from the People page or the API.
- Prune deactivates people the document does not name; it deletes no one (the
  incidents they worked on keep their names). Deactivated people are exported
  with `active: false`.
- Superusers are left out: they are made and kept with `manage.py`.
Writes go through portal/people.py, as the API and the People pages do."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from portal import people
from portal.config.sections import ItemError
from portal.models import Membership, OrgRole
from portal.text import clean_text

User = get_user_model()


def _split(name: str) -> tuple[str, str]:
    first, _, last = name.partition(" ")
    return first, last


class People:
    name = "people"
    key = "username"
    item_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["username"],
        "properties": {
            "username": {"type": "string", "pattern": r"^[\w.@+-]+$", "maxLength": 150},
            "name": {"type": "string", "maxLength": 300},
            "email": {"type": "string", "maxLength": 254, "pattern": r"^$|^[^@\s]+@[^@\s]+$"},
            "role": {"enum": list(OrgRole.values), "description": "Default viewer."},
            "teams": {"type": "array", "items": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}, "uniqueItems": True},
            "active": {"type": "boolean", "description": "false deactivates the account (it can no longer sign in)."},
            "invite": {"type": "boolean", "description": "Email an invitation when the account is created. Not exported."},
        },
    }

    def export(self) -> list[dict[str, Any]]:
        rows = User.objects.filter(is_superuser=False).select_related("membership").prefetch_related("teams").order_by("username")
        return [self._row(user) for user in rows]

    @staticmethod
    def _row(user: Any) -> dict[str, Any]:
        try:
            role = user.membership.role
        except Membership.DoesNotExist:
            role = OrgRole.VIEWER
        return {"username": user.username, "name": user.get_full_name(), "email": user.email, "role": role,
                "teams": sorted(t.slug for t in user.teams.all()), "active": user.is_active}  # fmt: skip

    def normalise(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"username": item["username"], "name": " ".join(clean_text(item.get("name", ""), max_length=300).split()),
                "email": (item.get("email") or "").strip(), "role": item.get("role", OrgRole.VIEWER),
                "teams": sorted(item.get("teams", [])), "active": item.get("active", True)}  # fmt: skip

    def write(self, item: dict[str, Any], *, by: Any) -> None:
        data = self.normalise(item)
        first_name, last_name = _split(data["name"])
        user = User.objects.filter(username=data["username"]).first()
        if user is not None and user.is_superuser:
            raise ItemError("a superuser is kept with manage.py, not in the document", "username")
        if user is None:
            user = people.person_create(
                username=data["username"], by=by, email=data["email"], first_name=first_name, last_name=last_name,
                role=data["role"], teams=data["teams"], invite=bool(item.get("invite", False)) and data["active"],
            )  # fmt: skip
            if not data["active"]:
                people.person_update(user=user, by=by, is_active=False)
            return
        people.person_update(
            user=user, by=by, email=data["email"], first_name=first_name, last_name=last_name, role=data["role"],
            teams=data["teams"], is_active=data["active"],
        )  # fmt: skip

    def prunable(self, row: dict[str, Any]) -> bool:
        return bool(row["active"])

    def delete(self, key: str, *, by: Any) -> None:
        user = User.objects.filter(username=key, is_superuser=False).first()
        if user is not None:
            people.person_update(user=user, by=by, is_active=False)


PEOPLE = People()
