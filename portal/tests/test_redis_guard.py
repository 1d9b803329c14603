from __future__ import annotations

from typing import Any

from portal import redis_guard


def test_the_breaker_skips_redis_after_a_failure_then_lets_one_caller_try(monkeypatch: Any) -> None:
    now = [1000.0]
    monkeypatch.setattr(redis_guard.time, "monotonic", lambda: now[0])
    breaker = redis_guard.Breaker(open_seconds=5)
    assert breaker.allows()
    breaker.failed("test")
    assert not breaker.allows()
    now[0] += 4.9
    assert not breaker.allows()
    now[0] += 0.2
    assert breaker.allows()  # one caller tries again...
    assert not breaker.allows()  # ...while the others keep skipping
    breaker.failed("test")
    now[0] += 5.1
    assert breaker.allows()
    breaker.succeeded()
    assert breaker.allows() and breaker.allows()
