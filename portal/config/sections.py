"""What an app contributes to the configuration document: one section.

A section names its objects by a natural key (a slug or a name), exports the
current rows in the document's own format, and writes one desired item. Export
and the normalised form of a desired item are the same shape, so the plan is a
field-by-field comparison and export-then-apply changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class Section(Protocol):
    name: str  # the document's key, e.g. "services"
    key: str  # the field naming an object, e.g. "slug"
    item_schema: dict[str, Any]  # JSON Schema of one item

    def export(self) -> list[dict[str, Any]]: ...

    def normalise(self, item: dict[str, Any]) -> dict[str, Any]:
        """The item with its defaults, as `export` would show it once written."""
        ...

    def write(self, item: dict[str, Any], *, by: Any) -> None:
        """Create or update the object named by item[key]; raise ValidationFailed."""
        ...

    def delete(self, key: str, *, by: Any) -> None: ...

    # Optional: `finish(items, by=...)` after a section's items are written (links
    # between items of the section, in any order), raising ItemError with a
    # `where` such as "[3].depends_on"; `settle() -> list[str]` after prunes, for
    # invariants that hold only once every change is made; `known() -> rows`, the
    # rows items are compared with when the section exports fewer (default: the
    # export); `prunable(row) -> bool`, whether prune may remove an exported row
    # the document does not name (default: yes).


class ItemError(Exception):
    """An item that cannot be written; `where` is a path under the item."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.where = where


@dataclass
class Change:
    section: str
    key: str
    action: str  # create | update | delete
    fields: dict[str, dict[str, Any]]  # name -> {"from": old, "to": new}

    def as_dict(self) -> dict[str, Any]:
        return {"section": self.section, "key": self.key, "action": self.action, "fields": self.fields}
