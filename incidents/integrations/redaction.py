"""Secrets out of stored payloads, wherever one is shown or returned.

Deliveries are kept raw, as the sender posted them, and a raw payload can carry a
credential: a PagerDuty event's `routing_key` *is* the integration's secret, and
senders put tokens, passwords and Authorization values in custom details. Every
page and API response that shows a stored payload goes through `redact` (parsed
JSON) or `redacted_body` (the stored text), and nothing else decides what a
secret is.
"""

from __future__ import annotations

import json
import re
from typing import Any

from portal.text import clean_text

REDACTED = "[redacted]"

# Field names that hold credentials, compared lower-cased with "-" and " " as "_":
# PagerDuty's routing/service/integration keys, and the usual token, secret,
# password, API key and Authorization fields.
_SECRET_NAME = re.compile(
    r"(routing_?key|service_?key|integration_?key|api_?key|access_?key|private_?key|secret|token|passw(or)?d|"
    r"authorization|credential|signature|cookie|session_?id)"
)
# The same fields in text that is not JSON (a body cut short, a log line).
_SECRET_IN_TEXT = re.compile(
    r'("(?P<name>[^"\\]{0,64})"\s*:\s*)"(?:[^"\\]|\\.)*"',
)


def is_secret_name(name: Any) -> bool:
    return isinstance(name, str) and bool(_SECRET_NAME.search(name.lower().replace("-", "_").replace(" ", "_")))


def redact(value: Any) -> Any:
    """A copy of a JSON value with the string values of secret-named fields replaced
    by REDACTED, at any depth. Strings come out renderable (no lone surrogates or
    control characters, which JSON escapes allow)."""
    if isinstance(value, dict):
        return {
            clean_text(key, multiline=True): REDACTED if is_secret_name(key) and isinstance(item, str) and item else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return clean_text(value, multiline=True)
    return value


def _redact_text(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        return f'{match.group(1)}"{REDACTED}"' if is_secret_name(match.group("name")) else match.group(0)

    return _SECRET_IN_TEXT.sub(replace, text)


def redact_mapping(mapping: Any) -> dict[str, str]:
    """Alert labels or annotations to show: a secret-named entry is redacted, and a
    value holding a JSON object (PagerDuty's custom_details) is redacted inside."""
    if not isinstance(mapping, dict):
        return {}
    shown: dict[str, str] = {}
    for key, value in mapping.items():
        text = value if isinstance(value, str) else json.dumps(value)
        if is_secret_name(key) and text:
            shown[key] = REDACTED
        elif text.lstrip().startswith(("{", "[")):
            try:
                shown[key] = json.dumps(redact(json.loads(text)), ensure_ascii=False)
            except ValueError:
                shown[key] = _redact_text(text)
        else:
            shown[key] = text
    return shown


def redacted_payload(body: str) -> Any:
    """A stored body as JSON with its secrets redacted, or its redacted text when it
    is not JSON."""
    try:
        return redact(json.loads(body))
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
        return clean_text(_redact_text(body), multiline=True)


def redacted_body(body: str) -> str:
    """A stored body as text to show: indented JSON with its secrets redacted."""
    payload = redacted_payload(body)
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, indent=2, ensure_ascii=False)
