"""People, teams, organisation roles and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class OrgRole(models.TextChoices):
    VIEWER = "viewer", "Viewer (read)"
    RESPONDER = "responder", "Responder (act on incidents)"
    MANAGER = "manager", "Manager (configure everything)"


ROLE_RANK = {OrgRole.VIEWER: 0, OrgRole.RESPONDER: 1, OrgRole.MANAGER: 2}


class Team(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's organisation role. A user without one is a viewer; a superuser is a manager."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    role = models.CharField(max_length=16, choices=OrgRole.choices, default=OrgRole.VIEWER)

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


def role_of(user: object) -> str | None:
    """The organisation role of a user, or None for anonymous users and inactive accounts."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return None
    if getattr(user, "is_superuser", False):
        return OrgRole.MANAGER
    cached = getattr(user, "_portal_role", None)
    if cached is not None:
        return cached
    try:
        role = user.membership.role  # type: ignore[attr-defined]
    except Membership.DoesNotExist:
        role = OrgRole.VIEWER
    user._portal_role = role  # type: ignore[attr-defined]
    return role


def display_name(user: Any) -> str:
    """How the portal names a person: full name, else username."""
    return user.get_full_name() or user.get_username()


def has_role(user: object, needed: str) -> bool:
    role = role_of(user)
    return role is not None and ROLE_RANK[OrgRole(role)] >= ROLE_RANK[OrgRole(needed)]


class TokenScope(models.TextChoices):
    READ = "read", "Read only"
    WRITE = "write", "Read and write"


TOKEN_PREFIX = "ipt_"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """An API token. Only a SHA-256 of the secret is stored; the full token is shown once.

    A token reads `ipt_<key_id>_<secret>`: the key id finds the row through a unique
    index, the secret is compared by hash in constant time.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120)
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(max_length=8, choices=TokenScope.choices, default=TokenScope.READ)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="apitoken_user_idx")]  # a user's token list

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_PREFIX}{self.key_id}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def issue(cls, *, user: User, name: str, scope: str = TokenScope.READ) -> tuple[ApiToken, str]:
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, scope=scope, key_id=key_id, secret_hash=_hash(secret))
        return token, f"{TOKEN_PREFIX}{key_id}_{secret}"

    @staticmethod
    def split(raw: str) -> tuple[str, str] | None:
        if not raw.startswith(TOKEN_PREFIX):
            return None
        key_id, sep, secret = raw[len(TOKEN_PREFIX) :].partition("_")
        if not sep or not key_id or not secret or len(key_id) > 16:
            return None
        return key_id, secret

    def matches(self, secret: str) -> bool:
        return secrets.compare_digest(self.secret_hash, _hash(secret))
