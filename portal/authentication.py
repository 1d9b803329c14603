from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from portal.models import ApiToken


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer ipt_<key_id>_<secret>` (the `Token` keyword works too)."""

    keywords = ("bearer", "token")

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1", "replace").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: expected `Bearer <token>`.")
        parts = ApiToken.split(header[1])
        if parts is None:
            raise exceptions.AuthenticationFailed("Invalid API token.")
        key_id, secret = parts
        # The owner's membership comes in the same query: every request checks the
        # organisation role, and a second query per API call is pure overhead.
        token = ApiToken.objects.select_related("user", "user__membership").filter(key_id=key_id).first()
        if token is None or not token.matches(secret):
            raise exceptions.AuthenticationFailed("Invalid API token.")
        if not token.is_active:
            raise exceptions.AuthenticationFailed("This API token has been revoked.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The owner of this API token is inactive.")
        self._touch(token)
        return token.user, token

    @staticmethod
    def _touch(token: ApiToken) -> None:
        # Record use at most once per resolution window: a write per request would
        # turn every API read into a write on the hot path.
        now = timezone.now()
        resolution = timedelta(seconds=settings.API_TOKEN_LAST_USED_RESOLUTION)
        if token.last_used_at is None or now - token.last_used_at >= resolution:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
