"""Admin for every model of the incidents app.

Incident workflows (status, roles, impact, updates) still go through the
services from the war room and the API; the admin is for configuration and for
looking things up. Timeline events are read-only here, as everywhere.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from incidents.models import (
    ActionItem,
    Incident,
    IncidentService,
    MaintenanceWindow,
    MessageTemplate,
    Postmortem,
    PostmortemSection,
    PostmortemTemplate,
    PublicUpdate,
    PublicUpdateComponent,
    RoleAssignment,
    Service,
    ServiceDependency,
    ServiceGroup,
    ServiceLink,
    Severity,
    Tag,
    TimelineEvent,
)
from portal.fields import CleanTextAdminMixin


@admin.register(ServiceGroup)
class ServiceGroupAdmin(CleanTextAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "display_order"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class ServiceLinkInline(CleanTextAdminMixin, admin.TabularInline):
    model = ServiceLink
    extra = 0


class ServiceDependencyInline(admin.TabularInline):
    model = ServiceDependency
    fk_name = "service"
    extra = 0
    autocomplete_fields = ["depends_on"]


@admin.register(Service)
class ServiceAdmin(CleanTextAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "group", "visibility", "team", "display_order"]
    list_filter = ["visibility", "group", "team"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ServiceLinkInline, ServiceDependencyInline]


@admin.register(Severity)
class SeverityAdmin(CleanTextAdminMixin, admin.ModelAdmin):
    list_display = ["name", "rank", "colour", "response_target", "pages"]
    list_editable = ["colour", "response_target", "pages"]
    search_fields = ["name"]

    def get_deleted_objects(self, objs, request):  # type: ignore[no-untyped-def]
        # A severity named by an integration's severity mapping is protected like a
        # foreign key: the admin lists what uses it and refuses the deletion.
        from incidents.integrations.severities import integrations_using

        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for severity in objs:
            protected += [f"Integration: {integration.name} (severity mapping)" for integration in integrations_using(severity)]
        return deleted, counts, perms_needed, protected


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ImpactInline(ReadOnlyInline):
    model = IncidentService
    fields = ["service", "impact", "updated_at"]
    readonly_fields = fields


class RoleInline(ReadOnlyInline):
    model = RoleAssignment
    fields = ["role", "user", "started_at", "ended_at", "assigned_by"]
    readonly_fields = fields


@admin.register(Incident)
class IncidentAdmin(CleanTextAdminMixin, admin.ModelAdmin):
    list_display = ["reference", "title", "severity", "status", "visibility", "started_at", "resolved_at"]
    list_filter = ["status", "severity", "visibility", "started_at", "tags"]
    search_fields = ["title", "summary", "=id"]
    date_hierarchy = "started_at"
    list_select_related = ["severity"]
    # Status, severity, roles and impact change through the services so the
    # timeline stays complete; the admin edits only descriptive fields.
    readonly_fields = [
        "status", "severity", "visibility", "started_at", "acknowledged_at", "identified_at", "mitigated_at",
        "resolved_at", "created_by", "created_at", "updated_at",
    ]  # fmt: skip
    fields = ["title", "summary", "tags", *readonly_fields]
    filter_horizontal = ["tags"]
    inlines = [ImpactInline, RoleInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TimelineEvent)
class TimelineEventAdmin(admin.ModelAdmin):
    list_display = ["incident", "kind", "occurred_at", "author", "pinned", "short_body"]
    list_filter = ["kind", "pinned", "occurred_at"]
    search_fields = ["body", "=incident__id"]
    list_select_related = ["incident", "author"]
    raw_id_fields = ["incident"]

    @admin.display(description="body")
    def short_body(self, event: TimelineEvent) -> str:
        return event.body[:80]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PublicUpdateComponentInline(ReadOnlyInline):
    model = PublicUpdateComponent
    fields = ["service", "old_status", "new_status"]
    readonly_fields = fields


@admin.register(PublicUpdate)
class PublicUpdateAdmin(admin.ModelAdmin):
    list_display = ["incident", "status", "display_at", "author"]
    list_filter = ["status", "display_at"]
    search_fields = ["body", "=incident__id"]
    raw_id_fields = ["incident"]
    readonly_fields = ["incident", "status", "body", "body_html", "author", "created_at", "updated_at"]
    inlines = [PublicUpdateComponentInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(CleanTextAdminMixin, admin.ModelAdmin):
    list_display = ["title", "status", "scheduled_start", "scheduled_end", "visibility"]
    list_filter = ["status", "visibility", "scheduled_start"]
    search_fields = ["title", "description"]
    filter_horizontal = ["services"]


@admin.register(MessageTemplate)
class MessageTemplateAdmin(CleanTextAdminMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "status", "updated_at"]
    list_filter = ["kind", "status"]
    search_fields = ["name", "body"]


@admin.register(PostmortemTemplate)
class PostmortemTemplateAdmin(CleanTextAdminMixin, admin.ModelAdmin):
    list_display = ["name", "is_default"]
    search_fields = ["name"]


class SectionInline(CleanTextAdminMixin, admin.StackedInline):
    model = PostmortemSection
    extra = 0


class ActionItemInline(CleanTextAdminMixin, admin.TabularInline):
    model = ActionItem
    extra = 0


@admin.register(Postmortem)
class PostmortemAdmin(admin.ModelAdmin):
    list_display = ["incident", "status", "owner", "created_at", "published_at"]
    list_filter = ["status", "published_at"]
    search_fields = ["incident__title", "=incident__id"]
    raw_id_fields = ["incident"]
    inlines = [SectionInline, ActionItemInline]


@admin.register(ActionItem)
class ActionItemAdmin(CleanTextAdminMixin, admin.ModelAdmin):
    list_display = ["title", "postmortem", "owner", "priority", "status", "due_date"]
    list_filter = ["status", "priority", "due_date"]
    search_fields = ["title"]
    raw_id_fields = ["postmortem"]
from incidents.integrations import admin as _integrations_admin  # noqa: E402,F401  (alert ingestion models)
from incidents.oncall import admin as _oncall_admin  # noqa: E402, F401  (on-call, notifications, subscribers)
