"""Counting failures per client address in the cache, for throttles that must
never cost a request its answer.

Counts live in fixed windows (`<scope>:<address>:<window number>`), so a window's
count expires by itself and the clock alone says which window is current. The
cache connection has a short timeout of its own (the `throttle` cache), and after
one error the throttle stands aside for a few seconds: while Redis is down a
request pays at most one short timeout, then none, and is answered as if no
throttle existed (failing open: a brute-force guard must not take the API down
with Redis).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

log = logging.getLogger(__name__)

CACHE_ALIAS = "throttle"
# How long the throttle stands aside after a cache error.
BACKOFF_SECONDS = 5.0


@dataclass
class FailureThrottle:
    """At most `limit` failures per address in each window of `window` seconds;
    both are read from the named settings on every call."""

    scope: str
    limit_setting: str
    window_setting: str

    def __post_init__(self) -> None:
        self._down_until = 0.0

    @property
    def limit(self) -> int:
        return int(getattr(settings, self.limit_setting))

    @property
    def window(self) -> int:
        return int(getattr(settings, self.window_setting))

    def _key(self, address: str, now: float) -> str:
        return f"{self.scope}:{address}:{int(now // self.window)}"

    def _retry_after(self, now: float) -> int:
        return max(1, int(self.window - now % self.window + 0.999))

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, exc: Exception) -> None:
        self._down_until = time.monotonic() + BACKOFF_SECONDS
        log.warning("throttle %s: cache unavailable (%s); not throttling for %.0f s", self.scope, exc, BACKOFF_SECONDS)

    def blocked_for(self, address: str | None) -> int | None:
        """Seconds until `address` may try again, or None when it may try now."""
        if not address or not self._available():
            return None
        now = time.time()
        try:
            count = caches[CACHE_ALIAS].get(self._key(address, now), 0)
        except Exception as exc:  # any cache error: answer without the throttle
            self._failed(exc)
            return None
        return self._retry_after(now) if count >= self.limit else None

    def record_failure(self, address: str | None) -> None:
        if not address or not self._available():
            return
        now = time.time()
        key = self._key(address, now)
        cache = caches[CACHE_ALIAS]
        try:
            # add() then incr(): both atomic in Redis; the key outlives its window by
            # one window, long enough to be read and short enough to clean itself up.
            cache.add(key, 0, timeout=self.window * 2)
            cache.incr(key)
        except ValueError:
            pass  # expired between the two calls: the window has moved on
        except Exception as exc:
            self._failed(exc)
