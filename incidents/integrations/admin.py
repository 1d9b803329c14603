"""Admin for alert ingestion: read-mostly views of what arrived and what it became."""

from __future__ import annotations

from django.contrib import admin

from incidents.models import Alert, AlertEvent, AlertGroup, Delivery, Integration


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "enabled", "default_action", "resolve_policy", "rate_limit_per_minute", "token_hint")
    list_filter = ("kind", "enabled", "default_action", "resolve_policy")
    search_fields = ("name", "token_hint")
    readonly_fields = ("token_hint", "created_by", "created_at", "updated_at")
    exclude = ("token_hash",)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "integration", "received_at", "status", "attempts", "external_id")
    list_filter = ("status", "integration__kind", "integration")
    search_fields = ("external_id", "assigned_key", "error")
    date_hierarchy = "received_at"
    list_select_related = ("integration",)

    # The raw table is append-only: it is read here, never edited. The body is shown
    # with its secrets redacted, as everywhere else.
    exclude = ("body",)

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return [f.name for f in self.model._meta.fields if f.name != "body"] + ["payload"]

    @admin.display(description="payload (secrets redacted)")
    def payload(self, obj: Delivery) -> str:
        return obj.shown_body

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    readonly_fields = ("status", "kind", "external_id", "occurred_at", "delivery", "details")
    fields = readonly_fields


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("title", "integration", "status", "severity", "incident", "starts_at", "last_received_at")
    list_filter = ("status", "integration", "severity")
    search_fields = ("title", "fingerprint", "group_key")
    list_select_related = ("integration", "incident")
    raw_id_fields = ("incident", "last_delivery")
    inlines = [AlertEventInline]


@admin.register(AlertGroup)
class AlertGroupAdmin(admin.ModelAdmin):
    list_display = ("group_key", "integration", "incident", "is_open", "opened_at", "closed_at")
    list_filter = ("is_open", "integration")
    search_fields = ("group_key",)
    raw_id_fields = ("incident",)
