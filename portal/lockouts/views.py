"""Pages: the 429 answer to a locked-out sign-in, and the managers' lock-out list."""

from __future__ import annotations

import math
from typing import Any

from axes.helpers import get_client_username
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from portal.errors import ValidationFailed
from portal.lockouts import selectors, services
from portal.models import OrgRole, has_role


def locked_out(request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None) -> HttpResponse:
    """django-axes' AXES_LOCKOUT_CALLABLE: a sign-in refused because of a lock-out,
    on the portal's page or the admin's alike."""
    now = timezone.now()
    username = get_client_username(request, credentials)
    until = selectors.locked_until(username=username, ip_address=getattr(request, "axes_ip_address", None), now=now)
    until = until or now + settings.AXES_COOLOFF_TIME
    wait = max(1, math.ceil((until - now).total_seconds()))
    context = {"retry_at": until, "retry_minutes": math.ceil(wait / 60), "username": username or ""}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def lockout_list(request: HttpRequest) -> HttpResponse:
    if not has_role(request.user, OrgRole.MANAGER):
        raise PermissionDenied("Lock-outs are for managers.")
    if request.method == "POST":
        kind, value = request.POST.get("kind", ""), request.POST.get("value", "")
        try:
            if kind == "username":
                services.lockout_lift(by=request.user, username=value)
            elif kind == "ip_address":
                services.lockout_lift(by=request.user, ip_address=value)
            else:
                raise ValidationFailed("Choose an account or an address to unlock.")
        except ValidationFailed as exc:
            messages.error(request, exc.message)
        else:
            shown = f"account {value}" if kind == "username" else f"address {value}"
            messages.success(request, f"Lock-out lifted for {shown}: it may sign in again.")
        return redirect("lockouts")
    lockouts = selectors.current_lockouts()
    return render(
        request,
        "portal/lockouts.html",
        {
            "accounts": [lockout for lockout in lockouts if lockout.kind == "username"],
            "addresses": [lockout for lockout in lockouts if lockout.kind == "ip_address"],
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
    )


urlpatterns = [path("", lockout_list, name="lockouts")]
