"""Redis on the request path: short timeouts, and no waiting at all while it is down.

A request never waits on Redis or the broker for more than a few milliseconds
(STYLE.md). Everything a request does with Redis is best effort: the database
holds the truth, a sweeper queues again what was stored while the broker was
away, the rate limiter lets requests through, live pages catch up on reconnect.
So every touch from a request uses a connection with a REQUEST_TIMEOUT socket
and connect timeout and no retries, and the first failure opens that use's breaker (`broker`,
`cache`, `channels`) for OPEN_SECONDS: until then this process does not try it
again, so a Redis that accepts connections but never answers costs one timeout
per process and use every few seconds, not one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 0.05  # seconds; Redis on a LAN answers in well under a millisecond
OPEN_SECONDS = 5.0


class Breaker:
    """Per process and use: after a failure, callers skip Redis for `open_seconds`;
    then one caller tries again (the others keep skipping) until one succeeds."""

    def __init__(self, open_seconds: float = OPEN_SECONDS) -> None:
        self.open_seconds = open_seconds
        self._until = 0.0  # 0: closed (Redis works); else skip until this monotonic time
        self._lock = threading.Lock()

    def allows(self) -> bool:
        until = self._until
        if until == 0.0:
            return True
        now = time.monotonic()
        if now < until:
            return False
        with self._lock:  # the first caller after the pause tries; the others skip another pause
            if self._until != until:
                return self._until == 0.0
            self._until = now + self.open_seconds
            return True

    def succeeded(self) -> None:
        if self._until != 0.0:
            self._until = 0.0
            log.warning("Redis is answering again")

    def failed(self, what: str) -> None:
        with self._lock:
            was_closed = self._until == 0.0
            self._until = time.monotonic() + self.open_seconds
        if was_closed:
            log.warning("Redis unavailable (%s); requests skip it for %.0fs at a time", what, self.open_seconds, exc_info=True)

    def reset(self) -> None:
        self._until = 0.0


broker = Breaker()  # publishing tasks
cache = Breaker()  # the alert rate limiter, the snapshot rebuild flag
channels = Breaker()  # broadcasts to live pages


def reset() -> None:
    """Close every breaker and forget this thread's broker connection (a changed
    broker URL takes effect on the next publish)."""
    for breaker in (broker, cache, channels):
        breaker.reset()
    _drop_broker_connection()

_local = threading.local()
_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def client_for(url: str) -> redis.Redis:
    """A redis-py client for `url` (one pool per process) with the request timeouts."""
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            # redis-py's own default retries ten times with backoff: seconds, not milliseconds.
            client = redis.Redis.from_url(
                url, socket_timeout=REQUEST_TIMEOUT, socket_connect_timeout=REQUEST_TIMEOUT, retry=Retry(NoBackoff(), 0)
            )
            _clients[url] = client
        return client


def _broker_connection() -> Any:
    """This thread's broker connection for publishing from a request: short
    timeouts, no reconnection retries. Kept for the next request while it works."""
    from portal.celery import app

    connection = getattr(_local, "connection", None)
    if connection is None:
        options = {
            **app.conf.broker_transport_options,
            "socket_timeout": REQUEST_TIMEOUT,
            "socket_connect_timeout": REQUEST_TIMEOUT,
            "max_retries": 0,
            "retry_on_timeout": False,
        }
        connection = app.connection_for_write(connect_timeout=REQUEST_TIMEOUT, transport_options=options)
        _local.connection = connection
    return connection


def _drop_broker_connection() -> None:
    connection = getattr(_local, "connection", None)
    _local.connection = None
    if connection is not None:
        try:
            connection.release()
        except Exception:  # noqa: BLE001 - it is broken already
            pass


def publish(task: Any, *, args: tuple[Any, ...] = (), queue: str, **options: Any) -> bool:
    """Queue `task` best effort: True if the broker took it, False if it was
    skipped or failed (the caller has stored what a sweeper needs)."""
    eager = bool(task.app.conf.task_always_eager)  # no broker involved: run it here
    if not eager and not broker.allows():
        return False
    try:
        if eager:
            task.apply_async(args=args, queue=queue, **options)
        else:
            task.apply_async(args=args, queue=queue, retry=False, connection=_broker_connection(), **options)
    except Exception:  # noqa: BLE001 - any broker failure: skip, the sweeper catches up
        if eager:
            log.warning("running %s failed", task.name, exc_info=True)
        else:
            _drop_broker_connection()
            broker.failed(f"publishing {task.name}")
        return False
    if not eager:
        broker.succeeded()
    return True


def cache_client() -> redis.Redis | None:
    """The cache's Redis with the request timeouts, or None when the cache is not Redis."""
    config = settings.CACHES["default"]
    if not config["BACKEND"].endswith("RedisCache"):
        return None
    return client_for(str(config["LOCATION"]))
