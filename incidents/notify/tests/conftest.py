from __future__ import annotations

from incidents.oncall.tests.conftest import crew  # noqa: F401 - registers the fixture
from incidents.tests.test_browser import live_asgi  # noqa: F401 - the portal's ASGI server in a thread
