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
    """Email an invitation with a link to choose a password. The link is Django's
    password-reset token: it stops working once a password is set, so a second
    run sends a second working link to the same person and nothing else."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.tokens import default_token_generator
    from django.core.mail import send_mail
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        return False
    link = settings.PUBLIC_URL + reverse(
        "password_reset_confirm", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user)}
    )
    send_mail(
        "You are invited to the incident portal",
        f"Hello {user.get_full_name() or user.username},\n\nYour account is {user.username}. Choose a password here:\n{link}\n",
        None,
        [user.email],
    )
    return True
