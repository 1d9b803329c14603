"""Fixtures shared by the incidents app's tests."""

from __future__ import annotations

from incidents.tests.public_support import snapshot_dir, world  # noqa: F401 - registers the fixtures

