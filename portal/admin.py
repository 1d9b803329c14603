from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from portal.fields import CleanTextAdminMixin
from portal.models import ApiToken, Membership, Team

User = get_user_model()


class MembershipInline(admin.StackedInline):
    model = Membership
    can_delete = False
    verbose_name_plural = "organisation role"


# The admin names the portal, not the framework it is built on.
admin.site.site_header = f"{settings.SITE_NAME} administration"
admin.site.site_title = settings.SITE_NAME
admin.site.index_title = "Configuration"

admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [MembershipInline]
    list_display = ["username", "email", "first_name", "last_name", "role", "is_active"]
    list_filter = [*BaseUserAdmin.list_filter, "membership__role"]
    list_select_related = ["membership"]

    @admin.display(description="role", ordering="membership__role")
    def role(self, user: Any) -> str:
        from portal.models import role_of

        return role_of(user) or "-"


@admin.register(Team)
class TeamAdmin(CleanTextAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    filter_horizontal = ["members"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "key_id", "scope", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", "revoked_at", "last_used_at"]
    search_fields = ["name", "key_id", "user__username"]
    readonly_fields = ["user", "key_id", "secret_hash", "scope", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are created at /api/v1/tokens/ so the secret is shown once to its owner
