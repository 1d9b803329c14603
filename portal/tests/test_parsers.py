from __future__ import annotations

import json
import time

import pytest

from portal.parsers import MAX_DEPTH, JsonRefused, load_json, nesting_depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "}}}", "\\"[[["]', 1),  # brackets inside strings, escaped quotes
        ('[{"k\\\\": "[["}, [[]]]', 3),  # an escaped backslash ends before the quote
    ],
)
def test_nesting_depth_counts_only_structural_brackets(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth
    json.loads(text)  # every case is real JSON


def test_the_limit_is_inclusive_and_the_refusal_says_why() -> None:
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert load_json(at_limit) is not None
    with pytest.raises(JsonRefused, match=f"nested more than {MAX_DEPTH} levels deep") as refused:
        load_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert refused.value.code == "json_too_deep"


def test_unbalanced_deep_input_is_refused_too() -> None:
    with pytest.raises(JsonRefused, match="nested more than"):
        load_json("[" * 100_000)
    with pytest.raises(JsonRefused, match="not valid JSON"):
        load_json("]" * 100_000)


def test_a_large_flat_body_is_measured_quickly() -> None:
    body = json.dumps([{"labels": {"a": "[" * 10, "b": [1, 2, 3]}} for _ in range(20_000)])  # about 0.8 MB
    started = time.perf_counter()
    assert len(load_json(body)) == 20_000
    assert time.perf_counter() - started < 1.0


def test_bytes_must_be_utf8_and_nan_is_refused_only_when_strict() -> None:
    with pytest.raises(JsonRefused) as refused:
        load_json(b'{"a": "\xff"}')
    assert refused.value.code == "invalid_encoding"
    assert load_json('{"a": NaN}')["a"] != 0
    with pytest.raises(JsonRefused, match="not valid JSON"):
        load_json('{"a": NaN}', strict=True)
