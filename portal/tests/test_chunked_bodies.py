"""Bodies sent with `Transfer-Encoding: chunked` reach every view, through the
real server (uvicorn running portal.asgi), with the size limits still enforced."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from incidents.integrations.pipeline.receive import MAX_PAYLOAD
from incidents.integrations.tests.helpers import fixture, make
from incidents.models import Delivery, Incident, IntegrationKind
from portal.models import ApiToken
from portal.tests.factories import Cast
from portal.tests.live import uvicorn_portal


@pytest.fixture
def port(seeded_transactional_db: Any) -> Iterator[int]:
    with uvicorn_portal() as port:
        yield port


def pieces(body: bytes, size: int = 300) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def post_chunked(port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    # An iterable body with no Content-Length: http.client sends it chunked.
    conn.request("POST", path, body=pieces(body), headers={"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data) if data else None


def test_a_chunked_alertmanager_delivery_is_stored_whole(port: int) -> None:
    _, token = make(IntegrationKind.ALERTMANAGER)
    body = fixture("alertmanager", "firing.json").encode()
    status, answer = post_chunked(port, f"/integrations/alertmanager/{token}/", body)
    assert status == 202, answer
    assert Delivery.objects.get(pk=answer["delivery"]).body == body.decode()


def test_a_chunked_pagerduty_event_is_accepted(port: int) -> None:
    _, routing_key = make(IntegrationKind.PAGERDUTY_EVENTS_V2)
    event = {"routing_key": routing_key, "event_action": "trigger", "dedup_key": "chunked-1",
             "payload": {"summary": "Disk full", "source": "db-1", "severity": "critical"}}  # fmt: skip
    status, answer = post_chunked(port, "/integrations/pagerduty/v2/enqueue", json.dumps(event).encode())
    assert status == 202, answer
    assert answer["dedup_key"] == "chunked-1"
    assert Delivery.objects.count() == 1


def test_a_chunked_api_request_is_read(port: int) -> None:
    cast = Cast.create()
    _, raw = ApiToken.issue(user=cast.responder, name="chunked", scope="write")
    body = json.dumps({"title": "Chunked declaration", "severity": "SEV2"}).encode()
    status, answer = post_chunked(port, "/api/v1/incidents/", body, {"Authorization": f"Bearer {raw}"})
    assert status == 201, answer
    assert Incident.objects.get(pk=answer["id"]).title == "Chunked declaration"


def test_an_empty_chunked_body_is_still_refused_as_empty(port: int) -> None:
    _, token = make(IntegrationKind.ALERTMANAGER)
    status, answer = post_chunked(port, f"/integrations/alertmanager/{token}/", b"")
    assert status == 400 and answer["error"]["code"] == "empty_body"


def test_a_chunked_delivery_over_the_receiver_limit_is_413(port: int) -> None:
    _, token = make(IntegrationKind.ALERTMANAGER)
    body = json.dumps({"padding": "x" * MAX_PAYLOAD}).encode()
    status, answer = post_chunked(port, f"/integrations/alertmanager/{token}/", body)
    assert status == 413 and answer["error"]["code"] == "payload_too_large"
    assert not Delivery.objects.exists()


def test_a_chunked_body_over_the_upload_limit_is_refused_without_waiting_for_its_end(port: int) -> None:
    """The body never ends (no last chunk): reading it whole would wait forever;
    the server answers 413 once the limit is passed."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    chunk = b"x" * 65536
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/incidents/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        while sent <= limit + len(chunk):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert json.loads(body)["error"]["code"] == "payload_too_large"
