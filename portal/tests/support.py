"""Small helpers shared by the tests."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def present(value: T | None) -> T:
    """`value`, which the test expects to be there: a None fails the test here."""
    assert value is not None
    return value
