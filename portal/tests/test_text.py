from __future__ import annotations

import pytest

from portal.text import clean_mapping, clean_text, clean_url, has_forbidden_characters


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("DB\x00 down", "DB down"),
        ("esc \x1b[31mred", "esc [31mred"),
        ("bell\x07 and \x01", "bell and"),
        ("c1 \x85 and del \x7f", "c1  and del"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("line\r\nbreaks\tand tabs", "line breaks and tabs"),
        ("  padded  ", "padded"),
        (None, ""),
        (42, "42"),
    ],
)
def test_it_cleans_single_line_text(raw: object, expected: str) -> None:
    assert clean_text(raw) == expected


def test_multiline_text_keeps_line_breaks_and_normalises_them() -> None:
    assert clean_text("a\r\nb\rc\n\td\x00", multiline=True) == "a\nb\nc\n\td"


def test_it_cuts_to_the_maximum_length() -> None:
    assert clean_text("x" * 300, max_length=255) == "x" * 255


def test_cleaned_text_encodes_as_utf8_and_is_valid_xml() -> None:
    from xml.etree import ElementTree

    text = clean_text("".join(chr(c) for c in range(0, 0x200)) + "\ud800\udfff\ufffe\uffff")
    text.encode("utf-8")
    ElementTree.fromstring(f"<t>{text.replace('&', '&amp;').replace('<', '&lt;')}</t>")
    assert not has_forbidden_characters(text)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("https://prometheus:9090/graph?g0.expr=up", "https://prometheus:9090/graph?g0.expr=up"),
        ("http://example.test/x", "http://example.test/x"),
        ("javascript:alert(1)", ""),
        (" JaVaScRiPt:alert(1)", ""),
        ("java\x00script:alert(1)", ""),
        ("data:text/html,<script>alert(1)</script>", ""),
        ("//evil.test/x", ""),
        ("/relative", ""),
        ("https://", ""),
        ("https://a b", ""),
        ("https://x.test/" + "a" * 3000, ""),
        (None, ""),
    ],
)
def test_it_keeps_only_absolute_http_links(raw: object, expected: str) -> None:
    assert clean_url(raw) == expected


def test_it_cleans_both_sides_of_a_mapping() -> None:
    assert clean_mapping({"sev\x00erity": "crit\x00ical", "\x00": "dropped", "n": 3}) == {"severity": "critical", "n": "3"}
    assert clean_mapping(["not", "a", "dict"]) == {}
