"""The condition language: what a probe's result must satisfy.

    [STATUS] == 200
    [RESPONSE_TIME] < 300                      milliseconds
    [BODY].status == "healthy"                 a path into the JSON body
    [BODY].checks.database.status != "unhealthy"
    [BODY].items[0].name == api                a bare word is a string
    [CERTIFICATE_EXPIRATION] > 72h             durations: ms, s, m, h, d
    [BODY] contains "ok"
    degraded: [RESPONSE_TIME] < 300            failing it makes the result degraded, not down

A condition is `[PLACEHOLDER]path OPERATOR value`, optionally prefixed with
`degraded:`. Operators: == != < <= > >= contains. Values: numbers, durations,
"double-quoted" strings (JSON escapes), true, false, null, or a bare word.
Times ([RESPONSE_TIME], [CERTIFICATE_EXPIRATION]) are compared in milliseconds.

A result is down when any plain condition fails, degraded when only `degraded:`
conditions fail, up otherwise. Every condition's evaluation is recorded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

DOWN = "down"
DEGRADED = "degraded"
UP = "up"

OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "contains")
ORDERING = {"<", "<=", ">", ">="}
MAX_LENGTH = 500

# Placeholders each kind produces; [BODY] alone takes a path.
PLACEHOLDERS = {
    "STATUS": "HTTP status code",
    "RESPONSE_TIME": "milliseconds from connect to answer",
    "BODY": "response body (a JSON path may follow)",
    "HEADERS": "response headers (a header name may follow: [HEADERS].content-type)",
    "CONNECTED": "true when the connection was made",
    "CERTIFICATE_EXPIRATION": "milliseconds until the certificate expires",
    "IP": "the address connected to",
    "DNS_RCODE": "DNS response code (NOERROR, NXDOMAIN, ...)",
    "DNS_ANSWERS": "DNS answers, comma-separated",
    "RESULT": "first column of the first row (PostgreSQL)",
    "ROLE": "Redis replication role (master, slave)",
    "READY": "true when the deployment is rolled out (kubectl rollout status rules)",
    "REPLICAS": "available replicas (Kubernetes)",
    "HEARTBEAT": "true when the last call came in time and reported success",
}
PATH_PLACEHOLDERS = {"BODY", "HEADERS"}

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$")
_KEY = re.compile(r"[A-Za-z0-9_\-]+")


class ConditionError(ValueError):
    """A condition that cannot be parsed; `column` (1-based) points at the mistake."""

    def __init__(self, message: str, column: int, text: str = "") -> None:
        super().__init__(f"column {column}: {message}")
        self.message = message
        self.column = column
        self.text = text

    def describe(self) -> str:
        pointer = " " * (self.column - 1) + "^"
        return f"{self.text}\n{pointer} column {self.column}: {self.message}"


@dataclass(frozen=True)
class Condition:
    text: str
    placeholder: str
    path: tuple[str | int, ...]
    operator: str
    value: Any  # str | float | bool | None
    is_duration: bool
    level: str  # DOWN | DEGRADED


def parse(text: str) -> Condition:
    if not isinstance(text, str):
        raise ConditionError("A condition is a string.", 1)
    if len(text) > MAX_LENGTH:
        raise ConditionError(f"A condition has at most {MAX_LENGTH} characters.", MAX_LENGTH + 1, text[:MAX_LENGTH])
    original = text
    pos = 0

    def fail(message: str, at: int) -> ConditionError:
        return ConditionError(message, at + 1, original)

    def skip_spaces(i: int) -> int:
        while i < len(text) and text[i] in " \t":
            i += 1
        return i

    level = DOWN
    pos = skip_spaces(pos)
    if text.startswith("degraded:", pos):
        level = DEGRADED
        pos = skip_spaces(pos + len("degraded:"))
    if pos >= len(text):
        raise fail("Empty condition: expected a placeholder such as [STATUS].", pos)
    if text[pos] != "[":
        raise fail("Expected a placeholder such as [STATUS] here.", pos)
    end = text.find("]", pos)
    if end < 0:
        raise fail("Unclosed placeholder: missing ']'.", pos)
    name = text[pos + 1 : end]
    if name not in PLACEHOLDERS:
        close = [p for p in PLACEHOLDERS if p.startswith(name[:3].upper())] if name else []
        hint = f" Did you mean [{close[0]}]?" if close else f" Known: {', '.join(sorted(PLACEHOLDERS))}."
        raise fail(f"Unknown placeholder [{name}].{hint}", pos + 1)
    pos = end + 1
    path: list[str | int] = []
    while pos < len(text) and text[pos] in ".[":
        if name not in PATH_PLACEHOLDERS:
            raise fail(f"[{name}] takes no path; only [BODY] and [HEADERS] do.", pos)
        if text[pos] == ".":
            match = _KEY.match(text, pos + 1)
            if not match:
                raise fail("Expected a key after '.'.", pos + 1)
            path.append(match.group())
            pos = match.end()
        else:
            close_at = text.find("]", pos)
            index_text = text[pos + 1 : close_at] if close_at > 0 else ""
            if close_at < 0 or not index_text.isdigit():
                raise fail("Expected a list index such as [0].", pos + 1)
            path.append(int(index_text))
            pos = close_at + 1
    if pos < len(text) and text[pos] not in " \t=!<>c":
        raise fail(f"Unexpected {text[pos]!r} after the placeholder.", pos)
    pos = skip_spaces(pos)
    operator = next((op for op in OPERATORS if text.startswith(op, pos)), None)
    if operator is None:
        raise fail(f"Expected an operator: {' '.join(OPERATORS)}.", pos)
    pos = skip_spaces(pos + len(operator))
    if operator == "contains" and pos == len(text):
        raise fail("Expected a value after 'contains'.", pos)
    if pos >= len(text):
        raise fail("Expected a value after the operator.", pos)
    value_at = pos
    raw = text[pos:].rstrip()
    is_duration = False
    value: Any
    if raw.startswith('"'):
        try:
            decoder = json.JSONDecoder()
            value, used = decoder.raw_decode(raw)
        except ValueError:
            raise fail("Unterminated or invalid string: a closing '\"' is missing.", value_at) from None
        if not isinstance(value, str):
            raise fail("Invalid string.", value_at)
        if raw[used:].strip():
            raise fail("Unexpected text after the value.", value_at + used + (len(raw[used:]) - len(raw[used:].lstrip())))
    elif (match := _DURATION.match(raw)) is not None:
        value = float(match.group(1)) * _DURATION_MS[match.group(2)]
        is_duration = True
    elif _NUMBER.match(raw):
        value = float(raw)
    elif raw in ("true", "false"):
        value = raw == "true"
    elif raw == "null":
        value = None
    else:
        space = next((i for i, ch in enumerate(raw) if ch in " \t"), -1)
        if space >= 0:
            raise fail("Unexpected text after the value; quote a string that has spaces.", value_at + space)
        if raw[0].isdigit() and re.match(r"\d+(?:\.\d+)?[a-zA-Z]+$", raw):
            raise fail("Unknown duration unit: use ms, s, m, h or d.", value_at)
        value = raw
    if operator in ORDERING and not isinstance(value, float):
        raise fail(f"'{operator}' compares numbers or durations.", value_at)
    if is_duration and name not in ("RESPONSE_TIME", "CERTIFICATE_EXPIRATION"):
        raise fail(f"[{name}] is not a time: a duration cannot be compared with it.", value_at)
    return Condition(original.strip(), name, tuple(path), operator, value, is_duration, level)


def parse_all(texts: Any, allowed: set[str] | None = None) -> tuple[list[Condition], dict[int, str]]:
    """Parse a list of conditions; the errors by index, each naming its column."""
    if not isinstance(texts, list):
        return [], {0: "Conditions are a list of strings."}
    parsed: list[Condition] = []
    errors: dict[int, str] = {}
    for index, text in enumerate(texts):
        try:
            condition = parse(text)
        except ConditionError as exc:
            errors[index] = f"{text!r}: column {exc.column}: {exc.message}" if isinstance(text, str) else exc.message
            continue
        if allowed is not None and condition.placeholder not in allowed:
            errors[index] = f"{text!r}: column {text.find('[') + 1}: [{condition.placeholder}] is not produced by this kind of probe (it gives {', '.join(sorted(allowed))})."
            continue
        parsed.append(condition)
    return parsed, errors


# --- Evaluation ------------------------------------------------------------------------

_MISSING = object()


def _walk(value: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return _MISSING
            value = value[step]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return _MISSING
    return value


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _short(value: Any) -> Any:
    if value is _MISSING:
        return None
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "…"
    if isinstance(value, dict | list):
        text = json.dumps(value)
        return text if len(text) <= 200 else text[:200] + "…"
    return value


def resolve(condition: Condition, values: dict[str, Any]) -> Any:
    if condition.placeholder not in values:
        return _MISSING
    value = values[condition.placeholder]
    if condition.placeholder == "BODY" and condition.path:
        if isinstance(value, str | bytes):
            try:
                value = json.loads(value)
            except ValueError:
                return _MISSING
        return _walk(value, condition.path)
    if condition.placeholder == "HEADERS" and condition.path:
        headers = {str(k).lower(): v for k, v in (value or {}).items()}
        return headers.get(str(condition.path[0]).lower(), _MISSING)
    return value


def evaluate(condition: Condition, values: dict[str, Any], body_json: Any = _MISSING) -> dict[str, Any]:
    """One condition against a result's values: {condition, level, ok, actual, error}."""
    if condition.placeholder == "BODY" and condition.path and body_json is not _MISSING:
        actual = _walk(body_json, condition.path)
    else:
        actual = resolve(condition, values)
    record: dict[str, Any] = {"condition": condition.text, "level": condition.level, "ok": False, "actual": _short(actual)}
    if actual is _MISSING:
        where = "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in condition.path)
        if condition.placeholder == "BODY" and condition.path:
            record["error"] = f"The body has no {where[1:] if where.startswith('.') else where} (or is not JSON)."
        else:
            record["error"] = f"No value for [{condition.placeholder}]{where}."
        return record
    op, expected = condition.operator, condition.value
    if op in ORDERING:
        number = _as_number(actual)
        if number is None:
            record["error"] = f"{_short(actual)!r} is not a number."
            return record
        record["ok"] = {"<": number < expected, "<=": number <= expected, ">": number > expected, ">=": number >= expected}[op]
        return record
    if op == "contains":
        if isinstance(actual, list):
            record["ok"] = any(_as_text(item) == _as_text(expected) for item in actual)
        else:
            record["ok"] = _as_text(expected) in _as_text(actual)
        return record
    if isinstance(expected, float):
        number = _as_number(actual) if not isinstance(actual, str) else None
        equal = number is not None and number == expected
    elif isinstance(expected, bool) or expected is None:
        equal = actual is expected or _as_text(actual) == _as_text(expected)
    else:
        equal = _as_text(actual) == expected
    record["ok"] = equal if op == "==" else not equal
    return record


def judge(conditions: list[Condition], values: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The outcome of a result and how each condition evaluated."""
    body_json: Any = _MISSING
    if any(c.placeholder == "BODY" and c.path for c in conditions) and isinstance(values.get("BODY"), str | bytes):
        try:
            body_json = json.loads(values["BODY"])
        except ValueError:
            body_json = _MISSING
    evaluations = [evaluate(c, values, body_json) for c in conditions]
    if any(not e["ok"] and e["level"] == DOWN for e in evaluations):
        return DOWN, evaluations
    if any(not e["ok"] for e in evaluations):
        return DEGRADED, evaluations
    return UP, evaluations
