"""The status page is answered from the snapshot before Django's middleware runs:
its answers carry the portal's Content-Security-Policy themselves."""

from __future__ import annotations

from typing import Any

import pytest

from incidents.public import rebuild
from incidents.public.http import respond

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/status/", "/status/history/", "/api/v2/summary.json", "/status/feed.atom"])
def test_snapshot_answers_carry_the_same_policy_as_django_pages(client: Any, world: Any, path: str) -> None:
    rebuild.rebuild()
    page_policy = client.get("/accounts/login/")["Content-Security-Policy"]
    assert "script-src 'self'" in page_policy and "unsafe" not in page_policy

    answer = respond(path, "GET")  # the ASGI fast path in front of Django
    assert answer is not None
    status, headers, _ = answer
    assert status == 200 and dict(headers)[b"content-security-policy"].decode() == page_policy
    # Through Django's view (a cold process, an uncached path): the same header.
    assert client.get(path)["Content-Security-Policy"] == page_policy
