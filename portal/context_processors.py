from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from portal.models import OrgRole, has_role, role_of


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "SITE_NAME": settings.SITE_NAME,
        "user_role": role_of(user),
        "can_respond": has_role(user, OrgRole.RESPONDER),
        "can_manage": has_role(user, OrgRole.MANAGER),
    }
