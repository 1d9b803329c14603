"""The status page survives the outage: with the database and Redis both gone, the
page and the JSON keep answering 200 from the last snapshot."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.db import connections

from incidents.public import rebuild, store

pytestmark = pytest.mark.django_db

PATHS = [
    "/status/",
    "/status/history/",
    "/status/feed.atom",
    "/status/feed.rss",
    "/status/badge.svg",
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
]


class DatabaseDown(Exception):
    pass


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise DatabaseDown("the database is down")


@pytest.fixture
def outage(settings: Any) -> Any:
    """Every query raises, and Redis points at a port where nothing listens."""
    location = settings.CACHES["default"]["LOCATION"]
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:9/0"}}
    store.forget()  # drops the Redis client too: the next one gets the dead address
    wrappers = [c.execute_wrapper(_refuse) for c in connections.all()]
    for w in wrappers:
        w.__enter__()
    yield
    for w in wrappers:
        w.__exit__(None, None, None)
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": location}}


def _asgi_get(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, dict[bytes, bytes], bytes]:
    from portal.asgi import application

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), *(headers or [])], "client": ("127.0.0.1", 1), "server": ("testserver", 80),
    }  # fmt: skip

    async def call() -> None:
        await application(scope, receive, send)

    asyncio.run(call())
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def test_the_outage_fixture_really_breaks_the_database_and_redis(world: Any, outage: Any) -> None:
    from incidents.models import Incident

    with pytest.raises(DatabaseDown):
        Incident.objects.count()
    with pytest.raises(Exception, match="(?i)connect"):
        store.redis_client().ping()


def test_pages_and_json_answer_200_with_database_and_redis_down(client: Any, world: Any, snapshot_dir: Any, settings: Any) -> None:
    version = rebuild.rebuild()
    before = {path: client.get(path).content for path in PATHS}
    store.forget()  # as after a restart of the web process: memory is empty

    location = settings.CACHES["default"]["LOCATION"]
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:9/0"}}
    try:
        with connections["default"].execute_wrapper(_refuse):
            for path in PATHS:
                response = client.get(path)
                assert response.status_code == 200, path
                assert response.content == before[path], path
                assert response["X-Snapshot-Version"] == str(version)
            # the fast path in front of Django answers the same bytes
            status, headers, body = _asgi_get("/api/v2/summary.json")
            assert status == 200 and body == before["/api/v2/summary.json"]
            assert _asgi_get("/api/v2/summary.json", [(b"if-none-match", headers[b"etag"])])[0] == 304
            # and the file is the only source: remove it and memory still serves
            (snapshot_dir / "public-snapshot.bin").unlink()
            assert client.get("/status/").status_code == 200
    finally:
        settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": location}}
        store.forget()


def test_with_no_snapshot_anywhere_and_the_database_down_the_page_says_503(client: Any, snapshot_dir: Any) -> None:
    with connections["default"].execute_wrapper(_refuse):
        response = client.get("/status/")
    assert response.status_code == 503 and response["Retry-After"]
