"""Guards for the values API fields look rows up by.

A lookup value goes into a query: PostgreSQL refuses NUL in text (psycopg raises
DataError, a 500), UTF-8 cannot encode a lone surrogate (UnicodeEncodeError), and
`str.isdigit()` accepts digits `int()` refuses ('²'). No stored name or slug holds
such characters (text is cleaned before it is stored), so they are refused with a
field error before any query.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from portal.text import has_forbidden_characters

UNSTORABLE = "Control characters (such as NUL) and lone surrogates are not allowed."


def refuse_unstorable(value: str) -> str:
    if has_forbidden_characters(value):
        raise serializers.ValidationError(UNSTORABLE, code="invalid_characters")
    return value


def is_number(text: str, max_length: int | None = None) -> bool:
    """ASCII digits only, and shorter than `max_length` when given."""
    return text.isascii() and text.isdigit() and (max_length is None or len(text) < max_length)


class SlugRef(serializers.SlugRelatedField):
    """A row by slug; a value no slug can hold is a field error, not a query."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            refuse_unstorable(data)
        return super().to_internal_value(data)
