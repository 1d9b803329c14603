"""Liveness tasks of the portal's own processes.

`ping` lets an operator (or CI) prove that a worker consumes the real broker:
the worker writes the token it was given into the cache, where the caller reads
it back. `beat_heartbeat` is sent by Celery beat on a short interval, so the time
it last ran tells whether beat and a worker are both alive.
"""

from __future__ import annotations

import os
import socket

from django.core.cache import cache
from django.utils import timezone

from portal.celery import app
from portal.env import env_int

PING_KEY = "portal:ping:{token}"
BEAT_HEARTBEAT_KEY = "portal:beat-heartbeat"
BEAT_HEARTBEAT_SECONDS = env_int("PORTAL_BEAT_HEARTBEAT_SECONDS", 60, minimum=1, maximum=3600)


@app.task(name="portal.tasks.ping", ignore_result=True)
def ping(token: str) -> str:
    """Record `token` with the worker's host name; safe to run twice (same key, same value)."""
    value = f"{socket.gethostname()}:{os.getpid()}"
    cache.set(PING_KEY.format(token=str(token)[:64]), value, timeout=300)
    return value


@app.task(name="portal.tasks.beat_heartbeat", ignore_result=True, expires=BEAT_HEARTBEAT_SECONDS)
def beat_heartbeat() -> str:
    now = timezone.now().isoformat()
    # Three intervals: a reader that finds no key knows beat or the workers stopped.
    cache.set(BEAT_HEARTBEAT_KEY, now, timeout=max(30, 3 * BEAT_HEARTBEAT_SECONDS))
    return now


# Registered here rather than in settings so that the schedule lives beside its task.
app.add_periodic_task(BEAT_HEARTBEAT_SECONDS, beat_heartbeat.s(), name="portal beat heartbeat")
