"""The probes list pages by keyset: every page costs the same number of queries,
whatever its depth or the number of probes, and the pages join up."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from health import services
from health.models import Probe

pytestmark = pytest.mark.django_db


def many(cast: Any, count: int) -> list[int]:
    location = services.default_location()
    Probe.objects.bulk_create(
        [Probe(service=cast.service, name=f"probe {i:03}", kind="tcp", target={"host": "127.0.0.1", "port": 1},
               credentials={"password": "hunter2"}) for i in range(count)]
    )  # fmt: skip
    ids = list(Probe.objects.order_by("-id").values_list("pk", flat=True))
    Probe.locations.through.objects.bulk_create([Probe.locations.through(probe_id=pk, location_id=location.pk) for pk in ids])
    return ids


def shown(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-probe-id="(\d+)"', html)]


def test_pages_by_keyset_in_a_fixed_number_of_queries(cast: Any) -> None:
    ids = many(cast, 120)
    client = Client()
    client.force_login(cast.viewer)
    client.get("/health/probes/")  # the session and the role, loaded once
    queries = []
    pages = []
    url = "/health/probes/?kind=tcp"
    while url:
        with CaptureQueriesContext(connection) as captured:
            html = client.get(url).content.decode()
        queries.append(len(captured.captured_queries))
        pages.append(shown(html))
        older = re.search(r'href="\?kind=tcp&amp;after=(\d+)"', html)
        url = f"/health/probes/?kind=tcp&after={older.group(1)}" if older else ""
    assert [len(p) for p in pages] == [50, 50, 20]
    assert [pk for page in pages for pk in page] == ids
    assert len(set(queries)) == 1  # the last page costs what the first does
    newer = re.search(r'href="\?kind=tcp&amp;before=(\d+)"', html)
    assert newer is not None
    assert shown(client.get(f"/health/probes/?kind=tcp&before={newer.group(1)}").content.decode()) == pages[1]
    assert "hunter2" not in html and "120 probes" in html
