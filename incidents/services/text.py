"""The one rule for text a person or a system hands to a service.

`portal.text.clean_text` removes control characters and lone surrogates (they
break PostgreSQL, XML feeds and terminals); here the result is also trimmed,
required when it must be, and refused when too long, never cut: a writer loses
nothing silently.
"""

from __future__ import annotations

from typing import Any

from portal.errors import ValidationFailed
from portal.text import clean_text, clean_url

MAX_TITLE = 200
MAX_BODY = 20_000


def clean_field(value: Any, field: str, *, max_length: int, multiline: bool = False, required: bool = False) -> str:
    """`value` cleaned for storage: single-line (titles, names) or multi-line (Markdown bodies)."""
    text = clean_text(value, multiline=multiline).strip()
    if required and not text:
        raise ValidationFailed(f"{field} must not be empty.", fields={field: ["This field may not be blank."]})
    if len(text) > max_length:
        raise ValidationFailed(
            f"{field} is too long.", fields={field: [f"Ensure this field has no more than {max_length} characters."]}
        )
    return text


def clean_link(value: Any, field: str, *, max_length: int) -> str:
    """An http(s) URL or "" when none is given; anything else is refused."""
    if value is None or not str(value).strip():
        return ""
    url = clean_url(value, max_length=max_length)
    if not url:
        raise ValidationFailed(f"{field} must be an http(s) URL.", fields={field: ["Enter an http:// or https:// URL."]})
    return url
