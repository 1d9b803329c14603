"""HTTP(S): method, headers, body, timeout, redirects, TLS verification, expected status.

Redirects are followed here, hop by hop, rather than by the client, so that every
hop's address is checked (a literal IP in a Location header never reaches the
resolver)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from health import net
from portal.text import clean_url

PLACEHOLDERS = {"STATUS", "RESPONSE_TIME", "BODY", "HEADERS", "CONNECTED", "IP"}
SECRET_KEYS = ("headers",)
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_BODY = 1_000_000
MAX_REDIRECTS = 10


def DEFAULT_CONDITIONS(target: dict[str, Any]) -> list[str]:  # noqa: N802 - the attribute every kind has
    expected = target.get("expected_status")
    return [f"[STATUS] == {expected}"] if expected else ["[STATUS] < 400"]


def validate(target: dict[str, Any], credentials: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    url = target.get("url")
    if not isinstance(url, str) or not clean_url(url) or not urlsplit(url).hostname:
        errors["target.url"] = ["An http:// or https:// URL with a host is required."]
    if target.get("method", "GET") not in METHODS:
        errors["target.method"] = [f"One of {', '.join(METHODS)}."]
    for key, where in (("headers", target), ("headers", credentials)):
        headers = where.get(key, {})
        if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            errors[f"{'target' if where is target else 'credentials'}.headers"] = ["An object of header names to string values."]
        elif any("\n" in k + v or "\r" in k + v for k, v in headers.items()):
            errors[f"{'target' if where is target else 'credentials'}.headers"] = ["Header names and values cannot contain line breaks."]
    if not isinstance(target.get("body", ""), str) or len(target.get("body", "")) > 100_000:
        errors["target.body"] = ["A string of at most 100,000 characters."]
    for key in ("follow_redirects", "verify_tls"):
        if key in target and not isinstance(target[key], bool):
            errors[f"target.{key}"] = ["true or false."]
    expected = target.get("expected_status")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int) or not 100 <= expected <= 599):
        errors["target.expected_status"] = ["An HTTP status between 100 and 599."]
    return errors


async def run(spec: Any, context: Any) -> dict[str, Any]:
    target = spec.target
    session: aiohttp.ClientSession = context.http_session()
    headers = {"User-Agent": "incident-portal-probe/1"}
    headers.update(target.get("headers") or {})
    headers.update(spec.credentials.get("headers") or {})
    method = target.get("method", "GET")
    data = target.get("body") or None
    url = URL(target["url"])
    follow = target.get("follow_redirects", True)
    ssl: Any = None if target.get("verify_tls", True) else False
    for _hop in range(MAX_REDIRECTS + 1):
        if url.scheme not in ("http", "https") or not url.host:
            raise OSError(f"Refusing to follow a redirect to {str(url)[:200]}.")
        if net.is_ip(url.host):
            net.check_address(url.host)
        async with session.request(method, url, headers=headers, data=data, allow_redirects=False, ssl=ssl) as response:
            if follow and response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                url = url.join(URL(response.headers["Location"]))
                if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                    method, data = "GET", None
                continue
            body = await response.content.read(MAX_BODY)
            peer = response.connection.transport.get_extra_info("peername") if response.connection and response.connection.transport else None
            return {
                "STATUS": response.status,
                "BODY": _decode(body, response.charset),
                "HEADERS": dict(response.headers),
                "CONNECTED": True,
                "IP": peer[0] if peer else "",
            }
    raise OSError(f"More than {MAX_REDIRECTS} redirects.")


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")
