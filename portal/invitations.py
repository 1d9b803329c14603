"""Invitations: a one-time link to choose a password.

The token is signed with the secret key (`django.core.signing`, with its own
salt), carries the time it was made (it expires after
`INVITATION_MAX_AGE_DAYS`) and a fingerprint of the account's password hash,
last login and active flag. Setting the password changes the hash, so the link
works once, without a table of used tokens; deactivating the account spends it
too.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

SALT = "portal.invitation"
User = get_user_model()


class InvitationInvalid(Exception):
    """`reason` is "expired", "used" or "invalid"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _state(user: Any) -> str:
    last_login = user.last_login.isoformat() if user.last_login else ""
    return salted_hmac(SALT, f"{user.pk}:{user.password}:{last_login}:{user.is_active}").hexdigest()[:32]


def make_token(user: Any) -> str:
    return signing.dumps({"u": user.pk, "s": _state(user)}, salt=SALT)


def invitation_url(user: Any) -> str:
    return settings.PUBLIC_URL + reverse("invitation", args=[make_token(user)])


def user_for(token: str, *, lock: bool = False) -> Any:
    """The account the token invites, or InvitationInvalid."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.INVITATION_MAX_AGE_DAYS * 86400)
    except signing.SignatureExpired:
        raise InvitationInvalid("expired") from None
    except signing.BadSignature:
        raise InvitationInvalid("invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("s"), str):
        raise InvitationInvalid("invalid")
    users = User.objects.select_for_update() if lock else User.objects
    user = users.filter(pk=data["u"]).first()
    if user is None:
        raise InvitationInvalid("invalid")
    if not user.is_active or not constant_time_compare(_state(user), data["s"]):
        raise InvitationInvalid("used")
    return user


@transaction.atomic
def invitation_accept(*, token: str, password: str) -> Any:
    """Set the password the invited person chose; the token is spent with it.
    The account row is locked, so two tabs posting at once set it once."""
    user = user_for(token, lock=True)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user
