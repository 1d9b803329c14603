"""People: managers create and deactivate accounts, set their role and teams,
and invite them by email (a link to choose a password, as Django's password
reset makes one). The invitation is sent by a task after commit."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from portal.errors import Conflict, ValidationFailed
from portal.models import Membership, OrgRole, Team
from portal.text import clean_text

User = get_user_model()


def _teams(slugs: list[str]) -> list[Team]:
    teams = list(Team.objects.filter(slug__in=slugs))
    unknown = sorted(set(slugs) - {t.slug for t in teams})
    if unknown:
        raise ValidationFailed("Unknown teams.", fields={"teams": [f"No team {', '.join(unknown)}."]})
    return teams


def _email(email: str) -> str:
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationFailed("Not an email address.", fields={"email": ["Enter a valid email address."]}) from None
    return email


def _invite_later(user_id: int) -> None:
    from portal.tasks import send_invitation

    transaction.on_commit(partial(send_invitation.delay, user_id))


@transaction.atomic
def person_create(
    *, username: str, by: Any, email: str = "", first_name: str = "", last_name: str = "", role: str = OrgRole.VIEWER,
    teams: list[str] | None = None, invite: bool = False,
) -> Any:  # fmt: skip
    """An account without a usable password: the person sets one from the invitation."""
    if role not in OrgRole.values:
        raise ValidationFailed("Unknown role.", fields={"role": [f"Choose one of {OrgRole.values}."]})
    email = _email(email)
    if invite and not email:
        raise ValidationFailed("An invitation needs an email address.", fields={"email": ["Required to invite."]})
    chosen = _teams(teams or [])
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=clean_text(username, max_length=150), email=email,
                first_name=clean_text(first_name, max_length=150), last_name=clean_text(last_name, max_length=150),
            )  # fmt: skip
    except IntegrityError:
        raise Conflict(f"The username {username!r} is taken.") from None
    user.set_unusable_password()
    user.save(update_fields=["password"])
    Membership.objects.create(user=user, role=role)
    user.teams.set(chosen)
    if invite:
        _invite_later(user.pk)
    return user


@transaction.atomic
def person_update(*, user: Any, by: Any, **changes: Any) -> Any:
    """Role, teams, names, email, active. A manager cannot demote or deactivate themself
    (the organisation must keep someone who can undo it)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.pk == getattr(by, "pk", None) and (changes.get("is_active") is False or changes.get("role", OrgRole.MANAGER) != OrgRole.MANAGER):
        raise Conflict("You cannot demote or deactivate your own account; ask another manager.")
    if "role" in changes:
        if changes["role"] not in OrgRole.values:
            raise ValidationFailed("Unknown role.", fields={"role": [f"Choose one of {OrgRole.values}."]})
        Membership.objects.update_or_create(user=user, defaults={"role": changes["role"]})
    if "teams" in changes:
        user.teams.set(_teams(changes["teams"]))
    for name in ("first_name", "last_name"):
        if name in changes:
            setattr(user, name, clean_text(changes[name], max_length=150))
    if "email" in changes:
        user.email = _email(changes["email"])
    if "is_active" in changes:
        user.is_active = bool(changes["is_active"])
    user.save()
    return user


def person_invite(*, user: Any, by: Any) -> None:
    if not user.email:
        raise ValidationFailed("This person has no email address.", fields={"email": ["Set an email address first."]})
    if not user.is_active:
        raise Conflict("This account is deactivated.")
    with transaction.atomic():
        _invite_later(user.pk)
