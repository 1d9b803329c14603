"""`http.request`: one request to an endpoint a manager configured (HttpEndpoint).

A step names the endpoint and a path below its URL, never a URL of its own; the
endpoint's headers (a token) are added by the portal and never shown. The request
goes through the same connect-time address check as notifications
(incidents/notify/netguard.py): the host is resolved once, every address checked,
and the connection made to the checked address. A dry run sends nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from incidents.notify import netguard
from runbooks.actions.base import Action, ActionContext, ActionError, ActionResult

IDEMPOTENCY_HEADER = "Idempotency-Key"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?\-]*$")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["endpoint"],
    "properties": {
        "endpoint": {"type": "string", "pattern": r"^[-a-zA-Z0-9_]{1,64}$"},
        "method": {"type": "string", "enum": METHODS},
        "path": {"type": "string", "maxLength": 500},
        "body": {"type": ["object", "array", "string"]},
        "expect_status": {"type": "array", "minItems": 1, "maxItems": 20,
                          "items": {"type": "integer", "minimum": 100, "maximum": 599}},  # fmt: skip
    },
}


def _target(base: str, path: str) -> str:
    if path and (not _PATH.match(path) or ".." in path.split("?")[0] or path.startswith("//")):
        raise ActionError(f"{path!r} is not a path below the endpoint (start with /, no ..).")
    return base.rstrip("/") + (path or "")


def execute(ctx: ActionContext, params: dict[str, Any]) -> ActionResult:
    from runbooks.models import HttpEndpoint

    endpoint = HttpEndpoint.objects.filter(name=params["endpoint"]).first()
    if endpoint is None:
        raise ActionError(f"No HTTP endpoint named {params['endpoint']!r} is configured.")
    method = params.get("method", "GET")
    url = _target(endpoint.url, params.get("path", ""))
    body = params.get("body")
    data: bytes | None = None
    headers = {str(k): str(v) for k, v in (endpoint.headers or {}).items()}
    if body is not None:
        if isinstance(body, str):
            data = body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
    headers[IDEMPOTENCY_HEADER] = ctx.idempotency_key
    request = {"method": method, "url": url, "body": body}
    if ctx.dry_run:
        return ActionResult(ok=True, output=f"Dry run: would send {method} {url}" + (f" with {json.dumps(body)[:2000]}" if body is not None else ""),
                            before={"request": request})  # fmt: skip
    expected = params.get("expect_status") or list(range(200, 300))
    try:
        answer = netguard.request(method, url, data, headers, timeout=float(min(endpoint.timeout_seconds, ctx.timeout_seconds)))
    except netguard.RefusedAddress as exc:
        raise ActionError(str(exc)) from exc  # refused before connecting: nothing was sent
    except netguard.TransportError as exc:
        # The request may have reached the endpoint: a person decides.
        from runbooks.actions.kubernetes import OutcomeUnknown

        raise OutcomeUnknown(str(exc)) from exc
    ok = answer.status in expected
    output = f"{method} {url} → {answer.status}\n{answer.body}"
    if not ok:
        output += f"\nExpected {', '.join(map(str, expected)) if params.get('expect_status') else '2xx'}."
    return ActionResult(ok=ok, output=output, before={"request": request}, after={"status": answer.status})


ACTIONS = [
    Action("http.request", "HTTP request to a configured endpoint", SCHEMA, execute, kubernetes=False,
           summary=lambda p: f"{p.get('method', 'GET')} {p.get('endpoint')}{p.get('path', '')}"),
]  # fmt: skip
