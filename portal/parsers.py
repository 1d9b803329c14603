"""JSON from outside, parsed with a bound on nesting.

Python's parser recurses once per level, so a body of 100,000 `[` raises
RecursionError (a 500) instead of a ValueError; and a payload that parses but
nests hundreds deep breaks the code that walks it later. `load_json` measures the
nesting first, on the raw text and at C speed, and refuses anything deeper than
`MAX_DEPTH` with a ValueError that says so. The REST API (`JSONParser`) and every
webhook receiver parse through it.
"""

from __future__ import annotations

import codecs
import json
import re
from array import array
from collections.abc import Mapping
from itertools import accumulate
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant

# Real payloads (Alertmanager groups, PagerDuty custom details, API bodies) nest a
# handful of levels; 64 leaves room for any sender's custom fields.
MAX_DEPTH = 64

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = str.maketrans({"[": "\x01", "{": "\x01", "]": "\xff", "}": "\xff"})


class JsonRefused(ValueError):
    """The body is not JSON the portal accepts; the message says why."""

    def __init__(self, message: str, code: str = "invalid_json") -> None:
        super().__init__(message)
        self.code = code


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in `text`, brackets inside strings
    not counted. Linear, and every step runs in C (regex, translate, accumulate)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    steps = array("b", brackets.translate(_STEP).encode("latin-1"))  # +1 open, -1 close
    return max(accumulate(steps))


def load_json(data: bytes | str, *, max_depth: int = MAX_DEPTH, strict: bool = False) -> Any:
    """Parse `data` as JSON (bytes are UTF-8); raise JsonRefused, a ValueError, for
    anything that is not JSON, nests deeper than `max_depth`, or (with `strict`)
    holds NaN or Infinity."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRefused("The body is not UTF-8 encoded.", "invalid_encoding") from None
    else:
        text = data
    # The number of opening brackets bounds the depth: most bodies stop here.
    if text.count("[") + text.count("{") > max_depth and nesting_depth(text) > max_depth:
        raise JsonRefused(f"The JSON is nested more than {max_depth} levels deep.", "json_too_deep")
    try:
        return json.loads(text, parse_constant=strict_constant if strict else None)
    except RecursionError:
        raise JsonRefused(f"The JSON is nested more than {max_depth} levels deep.", "json_too_deep") from None
    except ValueError as exc:
        raise JsonRefused(f"The body is not valid JSON: {exc}") from None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the nesting bound; errors are 400 parse errors."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})  # type: ignore[attr-defined]  # not in the stubs yet
        raw = stream.read() if stream is not None else b""
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError):
            raise ParseError(f"The body is not valid {encoding}.", code="invalid_encoding") from None
        try:
            return load_json(text, strict=self.strict)
        except JsonRefused as exc:
            raise ParseError(f"JSON parse error - {exc}", code=exc.code) from None
