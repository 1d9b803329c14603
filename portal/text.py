"""Text from outside, cleaned once at the service layer.

Everything that renders stored text (HTML, Atom/XML, JSON, Slack) trusts it after
this: no NUL or other control characters (PostgreSQL refuses NUL, XML refuses most
C0 controls, terminals obey ESC), no lone surrogates (UTF-8 cannot encode them),
bounded lengths, and links only http(s).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

# C0 controls but tab, newline and carriage return; DEL; C1 controls; the two
# non-characters XML 1.0 forbids.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
# Lone surrogates (a valid pair never reaches Python as two code points).
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"[\t\r\n]+")


def clean_text(value: Any, *, max_length: int | None = None, multiline: bool = False) -> str:
    """`value` as storable, renderable text.

    Control characters are removed, lone surrogates become U+FFFD. A single-line
    value (titles, names, labels) has its tabs and line breaks turned into single
    spaces and is stripped; a multi-line value (Markdown bodies) keeps them, with
    line endings normalised to `\\n`. `max_length` cuts the result.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    else:
        text = _LINE_BREAKS.sub(" ", text).strip()
    if max_length is not None and len(text) > max_length:
        text = text[:max_length]
    return text


def has_forbidden_characters(value: str) -> bool:
    """True when `value` holds a character `clean_text` would remove or replace."""
    return bool(_CONTROL.search(value) or _SURROGATE.search(value))


def clean_url(value: Any, *, max_length: int = 2000) -> str:
    """An absolute http(s) URL, or "" for anything else (`javascript:`, `data:`,
    relative or schemeless links, control characters, over-long values)."""
    text = clean_text(value)
    if not text or len(text) > max_length or " " in text:
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return text


def clean_mapping(mapping: Any, *, max_key: int = 255, max_value: int = 10_000) -> dict[str, str]:
    """A flat str→str mapping (alert labels, annotations) with both sides cleaned;
    keys that clean to nothing are dropped."""
    if not isinstance(mapping, dict):
        return {}
    cleaned: dict[str, str] = {}
    for key, value in mapping.items():
        name = clean_text(key, max_length=max_key)
        if name:
            cleaned[name] = clean_text(value, max_length=max_value, multiline=True)
    return cleaned
