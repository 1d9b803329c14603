"""Guessing API tokens: after API_TOKEN_FAILURE_LIMIT failures from one address in
a window the address gets 429 in the API's error shape, with Retry-After, even for
a right token; other addresses and right tokens are not slowed; a Redis outage
turns the throttle off instead of failing or stalling requests."""

from __future__ import annotations

import time
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings
from rest_framework.test import APIClient

from portal import throttle
from portal.authentication import token_failures
from portal.models import ApiToken

pytestmark = pytest.mark.django_db

LIMIT = settings.API_TOKEN_FAILURE_LIMIT
WINDOW = settings.API_TOKEN_FAILURE_WINDOW


def _client(token: str, address: str) -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture(autouse=True)
def _patient_throttle_cache(settings: Any) -> None:
    """The throttle's 100 ms Redis timeout is what production wants; on a loaded
    test machine one slow answer would switch the throttle off for the test and
    the count would come up short. The outage tests set their own cache."""
    settings.CACHES = {**settings.CACHES, "throttle": {**settings.CACHES["throttle"],
                       "OPTIONS": {"socket_connect_timeout": 5, "socket_timeout": 5}}}  # fmt: skip


@pytest.fixture
def token(cast: Any) -> str:
    return ApiToken.issue(user=cast.responder, name="ci", scope="read")[1]


def test_token_guesses_from_one_address_get_429_with_retry_after_and_a_right_token_is_refused_too(token: str) -> None:
    start = (time.time() // WINDOW) * WINDOW + 1  # early in a window
    with time_machine.travel(start, tick=False) as clock:
        codes = [
            _client(f"ipt_{n:08x}_{'s' * 32}", "198.51.100.30").get("/api/v1/incidents/").status_code
            for n in range(LIMIT + 20)
        ]
        assert codes[:LIMIT] == [401] * LIMIT and set(codes[LIMIT:]) == {429}

        refused = _client(token, "198.51.100.30").get("/api/v1/incidents/")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "throttled"
        assert "Too many failed API token attempts" in refused.json()["error"]["message"]
        assert int(refused["Retry-After"]) == WINDOW - 1

        # Another address is not affected, and neither is a session.
        assert _client(token, "198.51.100.31").get("/api/v1/incidents/").status_code == 200

        clock.shift(WINDOW)
        assert _client(token, "198.51.100.30").get("/api/v1/incidents/").status_code == 200


def test_right_tokens_never_count(token: str) -> None:
    with time_machine.travel(time.time(), tick=False):
        for _ in range(LIMIT + 5):
            assert _client(token, "198.51.100.32").get("/api/v1/incidents/").status_code == 200


def test_a_malformed_header_counts_as_a_failure_and_basic_auth_is_not_a_token() -> None:
    with time_machine.travel(time.time(), tick=False):
        for _ in range(LIMIT):
            assert _client("nonsense", "198.51.100.33").get("/api/v1/incidents/").status_code == 401
        assert _client("nonsense", "198.51.100.33").get("/api/v1/incidents/").status_code == 429
        basic = APIClient(REMOTE_ADDR="198.51.100.33", HTTP_AUTHORIZATION="Basic dXNlcjpwdw==")
        assert basic.get("/api/v1/incidents/").status_code == 401


def test_a_redis_outage_turns_the_throttle_off_without_failing_or_stalling_requests(token: str, monkeypatch: Any) -> None:
    dead = {**settings.CACHES["throttle"], "LOCATION": "redis://127.0.0.1:1/0"}  # nothing listens on port 1
    caches_setting = {**settings.CACHES, "throttle": dead}
    monkeypatch.setattr(token_failures, "_down_until", 0.0)
    with override_settings(CACHES=caches_setting):  # the cache handler opens connections anew
        cache = caches["throttle"]
        assert "127.0.0.1:1/" in str(cache._servers)  # type: ignore[attr-defined]  # RedisCache's own, not in the stubs
        tries: list[str] = []
        for name in ("get", "add", "incr"):
            real = getattr(cache, name)

            def counted(*a: Any, _real: Any = real, _name: str = name, **k: Any) -> Any:
                tries.append(_name)
                return _real(*a, **k)

            monkeypatch.setattr(cache, name, counted)
        started = time.monotonic()
        first = _client("ipt_00000000_guess", "198.51.100.34").get("/api/v1/incidents/").status_code
        first_took = time.monotonic() - started
        codes = [_client("ipt_00000000_guess", "198.51.100.34").get("/api/v1/incidents/").status_code for _ in range(LIMIT + 5)]
        good = _client(token, "198.51.100.34").get("/api/v1/incidents/").status_code
        elapsed = time.monotonic() - started
    assert first == 401 and set(codes) == {401} and good == 200
    assert first_took < 1.0, f"{first_took:.2f}s"  # one refused connection, within the 100 ms timeout
    # After the first error the throttle stands aside: one try per BACKOFF_SECONDS, not one per request.
    assert tries and len(tries) <= 1 + int(elapsed // throttle.BACKOFF_SECONDS), tries
    assert token_failures._down_until > time.monotonic() - throttle.BACKOFF_SECONDS
