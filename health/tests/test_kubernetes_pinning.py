"""The Kubernetes probe connects to the address it checked: a name that resolves to
an allowed address first and to a refused one afterwards (DNS rebinding) never
reaches the refused one, and TLS is still verified against the name."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from health.tests.servers import HealthServer
from health.tests.test_kinds import run

NAME = "k8s-api.example.test"
TARGET = {"namespace": "shop", "name": "api", "context": "stub"}


class RebindingResolver:
    """Answers 127.0.0.1 for NAME the first time and the cloud metadata address after
    that; other names resolve as usual."""

    def __init__(self) -> None:
        self.asked = 0
        self.real = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != NAME:
            return self.real(host, port, *args, **kwargs)
        self.asked += 1
        address = "127.0.0.1" if self.asked == 1 else "169.254.169.254"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 0)))]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[RebindingResolver]:
    fake = RebindingResolver()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    yield fake


def test_the_client_uses_the_checked_address_not_a_second_answer(server: HealthServer, resolver: RebindingResolver) -> None:
    credentials = {"kubeconfig": server.kubeconfig(server=f"http://{NAME}:{server.port}")}
    result = run("kubernetes", TARGET, credentials=credentials, timeout=15)
    assert result.outcome == "up", result
    assert resolver.asked == 1  # checked once; the client never looked the name up again
    assert server.requests[-1]["headers"]["Host"] == f"{NAME}:{server.port}"


def test_a_name_that_first_answers_a_refused_address_is_refused(server: HealthServer, resolver: RebindingResolver) -> None:
    resolver.asked = 1  # the next answer is the metadata address
    credentials = {"kubeconfig": server.kubeconfig(server=f"http://{NAME}:{server.port}")}
    result = run("kubernetes", TARGET, credentials=credentials, timeout=15)
    assert result.outcome == "down" and "metadata" in result.message
    assert server.requests == []


def test_tls_is_verified_against_the_name_while_connecting_to_the_address(server: HealthServer, resolver: RebindingResolver) -> None:
    port, certificate = server.tls_site(NAME)
    credentials = {"kubeconfig": server.kubeconfig(server=f"https://{NAME}:{port}", ca=certificate)}
    result = run("kubernetes", TARGET, credentials=credentials, timeout=15)
    assert result.outcome == "up", result
    assert resolver.asked == 1
    # a certificate for another name fails verification, pinned address or not
    other_port, other = server.tls_site("someone-else.example.test")
    resolver.asked = 0
    wrong = run("kubernetes", TARGET, credentials={"kubeconfig": server.kubeconfig(server=f"https://{NAME}:{other_port}", ca=other)}, timeout=15)
    assert wrong.outcome == "down" and "certificate" in wrong.message.lower(), wrong.message
