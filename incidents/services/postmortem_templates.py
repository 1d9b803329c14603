"""Postmortem templates: managers create, edit and delete them.

A template is an ordered list of sections (title, whether it is required to
publish, help text). A section's key names it inside a postmortem (the API
edits `sections[key]`); it is made from the title when not given. At most one
template is the default, the one used when a postmortem starts without naming
one: making a template the default takes that from the previous one in the same
transaction (a partial unique constraint holds it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from incidents import events
from incidents.models import PostmortemTemplate
from portal.errors import Conflict, ValidationFailed
from portal.text import clean_text

audit = logging.getLogger("incidents.audit")

MAX_NAME = 120
MAX_SECTIONS = 40
MAX_SECTION_TITLE = 120
MAX_HELP = 2000
MAX_DESCRIPTION = 2000
MAX_KEY = 64


def clean_sections(sections: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The sections as stored ({key, title, required, prompt}, in order), or
    ValidationFailed naming each bad one by its index (`sections.2.title`, as the API names nested fields)."""
    cleaned: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    items = list(sections)
    if not items:
        errors["sections"] = ["A template needs at least one section."]
    if len(items) > MAX_SECTIONS:
        errors["sections"] = [f"At most {MAX_SECTIONS} sections."]
    for index, spec in enumerate(items[:MAX_SECTIONS]):
        where = f"sections.{index}"
        if not isinstance(spec, Mapping):
            errors[where] = ["Each section is an object with a title."]
            continue
        title = clean_text(str(spec.get("title") or ""), max_length=MAX_SECTION_TITLE)
        if not title:
            errors[f"{where}.title"] = ["A section needs a title."]
            continue
        key = slugify(str(spec.get("key") or "") or title)[:MAX_KEY].strip("-")
        if not key:
            errors[f"{where}.key"] = ["Use letters or digits in the key (or the title)."]
            continue
        if key in seen:
            errors[f"{where}.key"] = [f"{key!r} is also the key of section {seen[key]}; give one of them another title or key."]
            continue
        seen[key] = index
        cleaned.append({
            "key": key,
            "title": title,
            "required": bool(spec.get("required", False)),
            "prompt": clean_text(str(spec.get("prompt") or ""), max_length=MAX_HELP, multiline=True),
        })  # fmt: skip
    if errors:
        raise ValidationFailed("The sections are not valid.", fields=errors)
    return cleaned


def _name(name: str) -> str:
    name = clean_text(name or "", max_length=MAX_NAME)
    if not name:
        raise ValidationFailed("A template needs a name.", fields={"name": ["This field is required."]})
    return name


def _record(verb: str, template: PostmortemTemplate, by: Any, changed: Iterable[str]) -> None:
    user = getattr(by, "username", None) or "system"
    audit.info("postmortem_template %s %s (%s) by %s: %s", template.name, verb, template.pk, user, sorted(changed))
    events.publish(f"postmortem.template_{verb}", public=False, id=template.pk, by=user, fields=",".join(sorted(changed)))


def _save(template: PostmortemTemplate) -> None:
    if template.is_default:
        PostmortemTemplate.objects.filter(is_default=True).exclude(pk=template.pk).update(is_default=False)
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        raise Conflict(f"A postmortem template named {template.name!r} already exists.") from None


@transaction.atomic
def postmortem_template_create(
    *, name: str, sections: Iterable[Mapping[str, Any]], by: Any, description: str = "", is_default: bool = False
) -> PostmortemTemplate:
    template = PostmortemTemplate(
        name=_name(name),
        description=clean_text(description or "", max_length=MAX_DESCRIPTION, multiline=True),
        sections=clean_sections(sections),
        is_default=is_default,
    )
    _save(template)
    _record("created", template, by, ["name", "description", "sections", "is_default"])
    return template


@transaction.atomic
def postmortem_template_update(
    *,
    template: PostmortemTemplate | int,
    by: Any,
    name: str | None = None,
    description: str | None = None,
    sections: Iterable[Mapping[str, Any]] | None = None,
    is_default: bool | None = None,
) -> PostmortemTemplate:
    """Change what is given; postmortems already started keep their sections."""
    pk = template if isinstance(template, int) else template.pk
    template = PostmortemTemplate.objects.select_for_update().get(pk=pk)
    wanted: dict[str, Any] = {}
    if name is not None:
        wanted["name"] = _name(name)
    if description is not None:
        wanted["description"] = clean_text(description, max_length=MAX_DESCRIPTION, multiline=True)
    if sections is not None:
        wanted["sections"] = clean_sections(sections)
    if is_default is not None:
        wanted["is_default"] = bool(is_default)
    changed = [field for field, value in wanted.items() if getattr(template, field) != value]
    if not changed:
        return template
    for field in changed:
        setattr(template, field, wanted[field])
    _save(template)
    _record("updated", template, by, changed)
    return template


@transaction.atomic
def postmortem_template_delete(*, template: PostmortemTemplate | int, by: Any) -> None:
    """Postmortems started from it keep their sections (and forget the template)."""
    pk = template if isinstance(template, int) else template.pk
    locked = PostmortemTemplate.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        return
    locked.delete()
    locked.pk = pk
    _record("deleted", locked, by, [])
