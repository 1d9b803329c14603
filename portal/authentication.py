from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from portal.client_address import client_address
from portal.models import ApiToken
from portal.throttle import FailureThrottle

# Failed token authentications per client address: guessing tokens gets a 429
# after API_TOKEN_FAILURE_LIMIT failures in a window, whatever the guesses.
token_failures = FailureThrottle("api-token-failures", "API_TOKEN_FAILURE_LIMIT", "API_TOKEN_FAILURE_WINDOW")


class TooManyFailures(exceptions.Throttled):
    default_detail = "Too many failed API token attempts from your address."


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer ipt_<key_id>_<secret>` (the `Token` keyword works too)."""

    keywords = ("bearer", "token")

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1", "replace").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        address = client_address(request._request)
        # Checked before the token is: while an address is blocked even a right guess
        # is refused, so that the answers to a guessing run tell it nothing.
        wait = token_failures.blocked_for(address)
        if wait is not None:
            raise TooManyFailures(wait=wait)
        try:
            return self._authenticate(header)
        except exceptions.AuthenticationFailed:
            token_failures.record_failure(address)
            raise

    def _authenticate(self, header: list[str]) -> tuple[Any, ApiToken]:
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
