"""Organisation roles enforced on the API.

Reads need `viewer`; writes need the role a view declares in `write_role`
(default `responder`), or per action in `action_roles`. A read-only API token
refuses every unsafe method whatever its owner's role.
"""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from portal.models import ApiToken, OrgRole, TokenScope, has_role


def required_role(request: Request, view: Any) -> str:
    action = getattr(view, "action", None)
    action_roles: dict[str, str] = getattr(view, "action_roles", {})
    if action and action in action_roles:
        return action_roles[action]
    if request.method in permissions.SAFE_METHODS:
        return getattr(view, "read_role", OrgRole.VIEWER)
    return getattr(view, "write_role", OrgRole.RESPONDER)


class OrgRolePermission(permissions.BasePermission):
    message = "Your organisation role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if isinstance(request.auth, ApiToken) and request.method not in permissions.SAFE_METHODS:
            if request.auth.scope != TokenScope.WRITE:
                self.message = "This API token is read-only."
                return False
        needed = required_role(request, view)
        if not has_role(user, needed):
            self.message = f"This needs the {needed} role."
            return False
        return True
