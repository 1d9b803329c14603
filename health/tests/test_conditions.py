"""The condition language: parsing with errors that point at the mistake, and evaluation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from health.conditions import ConditionError, judge, parse, parse_all


@pytest.mark.parametrize(
    ("text", "placeholder", "path", "operator", "value", "level"),
    [
        ("[STATUS] == 200", "STATUS", (), "==", 200.0, "down"),
        ("[RESPONSE_TIME] < 300", "RESPONSE_TIME", (), "<", 300.0, "down"),
        ('[BODY].status == "healthy"', "BODY", ("status",), "==", "healthy", "down"),
        ('[BODY].checks.database.status != "unhealthy"', "BODY", ("checks", "database", "status"), "!=", "unhealthy", "down"),
        ("[CERTIFICATE_EXPIRATION] > 72h", "CERTIFICATE_EXPIRATION", (), ">", 72 * 3_600_000.0, "down"),
        ("[BODY].items[2].name == api", "BODY", ("items", 2, "name"), "==", "api", "down"),
        ("degraded: [RESPONSE_TIME] <= 1.5s", "RESPONSE_TIME", (), "<=", 1500.0, "degraded"),
        ("[HEADERS].content-type contains json", "HEADERS", ("content-type",), "contains", "json", "down"),
        ("[CONNECTED] == true", "CONNECTED", (), "==", True, "down"),
    ],
)
def test_it_parses_the_documented_forms(text: str, placeholder: str, path: tuple, operator: str, value: Any, level: str) -> None:
    condition = parse(text)
    assert (condition.placeholder, condition.path, condition.operator, condition.value, condition.level) == (
        placeholder, path, operator, value, level,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("[STATUS] = 200", 10, "Expected an operator"),
        ("[STATU] == 200", 2, "Unknown placeholder [STATU]. Did you mean [STATUS]?"),
        ("STATUS == 200", 1, "Expected a placeholder"),
        ("[STATUS == 200", 1, "Unclosed placeholder: missing ']'"),
        ('[BODY].status == "healthy', 18, "closing '\"' is missing"),
        ("[STATUS] < healthy", 12, "'<' compares numbers or durations"),
        ("[STATUS] > 72h", 12, "[STATUS] is not a time"),
        ("[CERTIFICATE_EXPIRATION] > 72x", 28, "Unknown duration unit"),
        ("[BODY].a b == 1", 10, "Expected an operator"),
        ("[BODY].a$ == 1", 9, "Unexpected '$' after the placeholder"),
        ("[BODY]. == 1", 8, "Expected a key after '.'"),
        ("[BODY].items[x] == 1", 14, "Expected a list index"),
        ("[STATUS].code == 1", 9, "[STATUS] takes no path"),
        ("[STATUS] ==", 12, "Expected a value"),
        ("[BODY].status == two words", 21, "quote a string that has spaces"),
        ("", 1, "Empty condition"),
    ],
)
def test_errors_point_at_the_mistake(text: str, column: int, message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse(text)
    assert caught.value.column == column, caught.value.describe()
    assert message in caught.value.message
    assert caught.value.describe().splitlines()[1].index("^") == column - 1


def test_parse_all_names_each_bad_condition_and_checks_the_kind() -> None:
    parsed, errors = parse_all(["[STATUS] == 200", "[STATUS] = 200", "[ROLE] == master"], allowed={"STATUS", "BODY"})
    assert len(parsed) == 1
    assert errors == {
        1: "'[STATUS] = 200': column 10: Expected an operator: == != <= >= < > contains.",
        2: "'[ROLE] == master': column 1: [ROLE] is not produced by this kind of probe (it gives BODY, STATUS).",
    }


HEALTHY = json.dumps({"status": "healthy", "checks": {"database": {"status": "healthy"}}, "items": [1, 2]})


def outcome(conditions: list[str], **values: Any) -> str:
    return judge([parse(c) for c in conditions], values)[0]


def test_outcomes_up_degraded_down() -> None:
    conditions = ["[STATUS] == 200", "degraded: [RESPONSE_TIME] < 300"]
    assert outcome(conditions, STATUS=200, RESPONSE_TIME=120) == "up"
    assert outcome(conditions, STATUS=200, RESPONSE_TIME=450) == "degraded"
    assert outcome(conditions, STATUS=500, RESPONSE_TIME=450) == "down"


def test_json_paths_and_missing_keys() -> None:
    assert outcome(['[BODY].checks.database.status == "healthy"'], BODY=HEALTHY) == "up"
    assert outcome(["[BODY].items[1] == 2"], BODY=HEALTHY) == "up"
    assert outcome(["[BODY].items contains 2"], BODY=HEALTHY) == "up"
    _, [evaluation] = judge([parse("[BODY].checks.redis.status == healthy")], {"BODY": HEALTHY})
    assert evaluation == {"condition": "[BODY].checks.redis.status == healthy", "level": "down", "ok": False, "actual": None,
                          "error": "The body has no checks.redis.status (or is not JSON)."}  # fmt: skip
    _, [evaluation] = judge([parse("[RESULT] > 3")], {"RESULT": "many"})
    assert evaluation["error"] == "'many' is not a number."


def test_values_compare_by_type() -> None:
    assert outcome(["[STATUS] == 200"], STATUS=200) == "up"
    assert outcome(['[STATUS] == "200"'], STATUS=200) == "up"  # a quoted number compares as text
    assert outcome(["[BODY].ok == true"], BODY='{"ok": true}') == "up"
    assert outcome(["[BODY].ok == true"], BODY='{"ok": "yes"}') == "down"
    assert outcome(["[BODY].count == 3"], BODY='{"count": "3"}') == "down"  # text is not the number 3
    assert outcome(["[BODY].value == null"], BODY='{"value": null}') == "up"
    assert outcome(["[CERTIFICATE_EXPIRATION] > 72h"], CERTIFICATE_EXPIRATION=73 * 3_600_000) == "up"
    assert outcome(["[CERTIFICATE_EXPIRATION] > 72h"], CERTIFICATE_EXPIRATION=71 * 3_600_000) == "down"


@given(st.integers(min_value=100, max_value=599), st.integers(min_value=100, max_value=599), st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
def test_numeric_comparisons_agree_with_python(actual: int, expected: int, operator: str) -> None:
    import operator as op

    python = {"==": op.eq, "!=": op.ne, "<": op.lt, "<=": op.le, ">": op.gt, ">=": op.ge}[operator]
    result = outcome([f"[STATUS] {operator} {expected}"], STATUS=actual)
    assert result == ("up" if python(actual, expected) else "down")


KEY = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=8)
SCALAR = st.one_of(st.text(max_size=20), st.integers(-10**6, 10**6), st.booleans(), st.none())


@given(st.lists(KEY, min_size=1, max_size=4), SCALAR)
def test_any_json_path_finds_what_was_put_there(path: list[str], value: Any) -> None:
    document: Any = value
    for key in reversed(path):
        document = {key: document}
    literal = json.dumps(value) if isinstance(value, str) else ("null" if value is None else json.dumps(value))
    condition = f"[BODY].{'.'.join(path)} == {literal}"
    assert outcome([condition], BODY=json.dumps(document)) == "up"
    assert outcome([condition.replace("==", "!=", 1)], BODY=json.dumps(document)) == "down"


@given(st.text(max_size=60))
def test_parsing_any_text_either_parses_or_points_inside_it(text: str) -> None:
    try:
        parse(text)
    except ConditionError as exc:
        assert 1 <= exc.column <= len(text) + 1
