"""Liveness tasks of the portal's own processes.

`ping` lets an operator (or CI) prove that a worker consumes the real broker:
the worker writes the token it was given into the cache, where the caller reads
it back. `beat_heartbeat` is sent by Celery beat on a short interval, so the time
it last ran tells whether beat and a worker are both alive.
"""

from __future__ import annotations

import os
import socket

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from portal.celery import app

PING_KEY = "portal:ping:{token}"
BEAT_HEARTBEAT_KEY = "portal:beat-heartbeat"


@app.task(name="portal.tasks.ping", ignore_result=True)
def ping(token: str) -> str:
    """Record `token` with the worker's host name; safe to run twice (same key, same value)."""
    value = f"{socket.gethostname()}:{os.getpid()}"
    cache.set(PING_KEY.format(token=str(token)[:64]), value, timeout=300)
    return value


@app.task(name="portal.tasks.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> str:
    now = timezone.now().isoformat()
    # Three intervals: a reader that finds no key knows beat or the workers stopped.
    cache.set(BEAT_HEARTBEAT_KEY, now, timeout=max(30, 3 * settings.BEAT_HEARTBEAT_SECONDS))
    return now

