"""Request bodies sent with `Transfer-Encoding: chunked`, made readable by Django.

WSGI has no length for a chunked body: the environ carries no CONTENT_LENGTH,
and Django (its LimitedStream) and DRF both read a request without one as
empty, so a chunked webhook was refused as `empty_body` and a chunked API call
lost its JSON. `buffer_chunked_body` sits between the server (a2wsgi in
`portal.asgi`) and Django's WSGI handler: it reads such a body, up to
DATA_UPLOAD_MAX_MEMORY_SIZE and never more, and hands Django the bytes with
their length, so every view sees it exactly as if Content-Length had been
sent (including the receivers' own 512 KB limit). A longer body is answered
413 at once, in the API's error shape, without reading the rest.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Used only if DATA_UPLOAD_MAX_MEMORY_SIZE is None (unlimited): a chunked body is
# held in memory, so some bound is always kept.
FALLBACK_LIMIT = 2_621_440
READ_SIZE = 64 * 1024


def chunked_limit() -> int:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return FALLBACK_LIMIT if limit is None else int(limit)


def is_chunked(environ: dict[str, Any]) -> bool:
    if environ.get("CONTENT_LENGTH"):
        return False
    codings = [c.strip().lower() for c in str(environ.get("HTTP_TRANSFER_ENCODING", "")).split(",")]
    return "chunked" in codings


def read_limited(stream: Any, limit: int) -> bytes | None:
    """The whole body if it is at most `limit` bytes, else None (and the rest unread)."""
    buffer = bytearray()
    while len(buffer) <= limit:
        piece = stream.read(min(READ_SIZE, limit + 1 - len(buffer)))
        if not piece:
            return bytes(buffer)
        buffer.extend(piece)
    return None


def too_large(start_response: Callable[..., Any], limit: int) -> list[bytes]:
    from portal.api_errors import error_body  # imports DRF, which needs settings loaded first

    body = json.dumps(
        error_body("payload_too_large", f"The request body is larger than the limit of {limit // 1024} KB; it was not read.")
    ).encode()
    start_response(
        "413 Request Entity Too Large",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")],
    )
    return [body]


def buffer_chunked_body(app: WSGIApp) -> WSGIApp:
    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if is_chunked(environ):
            limit = chunked_limit()
            body = read_limited(environ["wsgi.input"], limit)
            if body is None:
                return too_large(start_response, limit)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    return application
