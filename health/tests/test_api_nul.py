"""Query parameters with NUL and other control characters are cleaned, never a 500
(PostgreSQL refuses NUL in text)."""

from __future__ import annotations

from typing import Any

import pytest

from portal.tests.factories import ApiClientFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["q=a%00b", "service=a%00b", "kind=%00", "status=%00", "enabled=%00"])
def test_probe_list_filters_with_nul_are_answered(cast: Any, query: str) -> None:
    client = ApiClientFactory(cast).as_(cast.owner)
    response = client.get(f"/api/v1/probes/?{query}")
    assert response.status_code == 200
    assert response.json()["results"] == []
