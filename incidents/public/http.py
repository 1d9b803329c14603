"""Answering a request from the snapshot: shared by the Django views and the ASGI
fast path, so both send the same bytes and headers."""

from __future__ import annotations

from functools import cache

from csp.utils import build_policy

from incidents.public import store

# Readers and CDNs may keep a page 10s, serve it stale while they revalidate, and
# keep serving it for a day if the portal cannot answer at all.
CACHE_CONTROL = "public, max-age=10, stale-while-revalidate=30, stale-if-error=86400"
API_PREFIX = "/api/v2/"
COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
    (b"access-control-max-age", b"86400"),
]

Headers = list[tuple[bytes, bytes]]


@cache
def content_security_policy() -> tuple[bytes, bytes]:
    """The portal's Content-Security-Policy header (settings.CONTENT_SECURITY_POLICY):
    these answers never pass Django's middleware, so they carry it themselves."""
    return b"content-security-policy", build_policy().encode()


def etag_matches(if_none_match: str, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    # Weak comparison (RFC 9110 §13.1.2): a proxy may have weakened our tag.
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in tags


def respond(path: str, method: str, if_none_match: str = "") -> tuple[int, Headers, bytes] | None:
    """The answer for `path`, or None if the snapshot has no such artifact (the
    caller then falls back to its own handling: usually a 404)."""
    snap = store.current()
    if snap is None:
        return None
    artifact = snap.artifacts.get(path)
    if artifact is None:
        return None
    headers: Headers = [*COMMON, content_security_policy()]
    if path.startswith(API_PREFIX):
        headers += CORS
    if method == "OPTIONS":
        return 204, headers + [(b"allow", b"GET, HEAD, OPTIONS")], b""
    if method not in ("GET", "HEAD"):
        allow = [(b"allow", b"GET, HEAD, OPTIONS")]
        if path.startswith(API_PREFIX):  # the API's one error shape, as Django gives it under /api/
            body = b'{"error": {"code": "method_not_allowed", "message": "Only GET, HEAD and OPTIONS are allowed."}}'
            return 405, headers + allow + [(b"content-type", b"application/json")], body
        return 405, headers + allow, b""
    headers += [
        (b"etag", artifact.etag.encode()),
        (b"cache-control", CACHE_CONTROL.encode()),
        (b"x-snapshot-version", str(snap.version).encode()),
    ]
    if etag_matches(if_none_match, artifact.etag):
        return 304, headers, b""
    headers += [(b"content-type", artifact.content_type.encode()), (b"content-length", str(len(artifact.body)).encode())]
    if path.endswith(".html") or artifact.content_type.startswith("text/html"):
        headers.append((b"x-frame-options", b"DENY"))
    return 200, headers, b"" if method == "HEAD" else artifact.body
