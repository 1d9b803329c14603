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


@app.task(name="portal.tasks.send_invitation", ignore_result=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_invitation(user_id: int) -> bool:
    """Email an invitation with a link to choose a password (portal/invitations.py):
    signed, expiring, and spent once a password is set, so a second run sends a
    second working link to the same person and nothing else."""
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mail

    from portal.invitations import invitation_url

    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        return False
    days = settings.INVITATION_MAX_AGE_DAYS
    send_mail(
        "You are invited to the incident portal",
        f"Hello {user.get_full_name() or user.username},\n\nYour account is {user.username}. Choose a password here "
        f"(the link works once, for {days} days):\n{invitation_url(user)}\n",
        None,
        [user.email],
    )
    return True
