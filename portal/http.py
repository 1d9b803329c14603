"""Request types for views.

`django_htmx.middleware.HtmxMiddleware` runs for every request, so the pages'
views take `HtmxHttpRequest`, which says so to the type checker; a view behind
`login_required` takes `AuthenticatedHttpRequest`, whose user is signed in."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails
from rest_framework.request import Request


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class AuthenticatedHttpRequest(HtmxHttpRequest):
    user: User


def api_user(request: Request) -> User:
    """The user of an API request. Every API view requires a signed-in user
    (`OrgRolePermission`, the default permission class) unless it says otherwise."""
    return cast(User, request.user)
