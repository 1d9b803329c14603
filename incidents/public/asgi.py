"""The status page and /api/v2 answered from the in-memory snapshot before
Django is entered: `portal.asgi` wraps its application in `snapshot_first`.

These are the most-read URLs during an outage; answering them here skips the
middleware stack and URL resolution (several times the throughput) and makes
it plain that the read path needs neither the database nor Redis. Anything the
snapshot does not hold (an unknown path, an incident older than the snapshot,
a cold start) falls through to Django's views, which answer the same way.

It also answers the ASGI lifespan: at server start the process starts its
snapshot poller (store.Poller), at shutdown it stops it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from incidents.public import store
from incidents.public.http import respond

PREFIXES = ("/status/", "/api/v2/")
METHODS = ("GET", "HEAD", "OPTIONS")


ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            store.start_poller()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            store.stop_poller()
            await send({"type": "lifespan.shutdown.complete"})
            return


def snapshot_first(inner: ASGIApp) -> ASGIApp:
    async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] == "http" and scope["method"] in METHODS and scope["path"].startswith(PREFIXES):
            if_none_match = ""
            for name, value in scope["headers"]:
                if name == b"if-none-match":
                    if_none_match = value.decode("latin-1")
                    break
            answer = respond(scope["path"], scope["method"], if_none_match)
            if answer is not None:
                status, headers, body = answer
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await inner(scope, receive, send)

    return application
