from __future__ import annotations

from incidents.oncall.tests.conftest import crew  # noqa: F401 - registers the fixture
