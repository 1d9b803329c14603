"""Admin for on-call configuration, notification channels and status subscribers.

Managers look up and correct things here; paging state and the delivery log are
read-only (they are history, written by the paging and delivery code)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from incidents.models import (
    Channel,
    ContactMethod,
    Escalation,
    EscalationPolicy,
    EscalationStep,
    LayerMember,
    NotificationDelivery,
    NotificationRule,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
    SeverityPaging,
    StatusSubscriber,
)


class LayerMemberInline(admin.TabularInline):
    model = LayerMember
    extra = 1


@admin.register(ScheduleLayer)
class ScheduleLayerAdmin(admin.ModelAdmin):
    list_display = ["schedule", "name", "priority", "rotation", "rotation_start"]
    inlines = [LayerMemberInline]


class LayerInline(admin.TabularInline):
    model = ScheduleLayer
    extra = 0
    show_change_link = True


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone", "team"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [LayerInline]


@admin.register(ScheduleOverride)
class ScheduleOverrideAdmin(admin.ModelAdmin):
    list_display = ["schedule", "user", "starts_at", "ends_at", "reason"]


class StepInline(admin.StackedInline):
    model = EscalationStep
    extra = 1
    filter_horizontal = ["users", "schedules", "teams"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "repeat", "is_default"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["services", "teams"]
    inlines = [StepInline]


@admin.register(SeverityPaging)
class SeverityPagingAdmin(admin.ModelAdmin):
    list_display = ["severity", "policy", "update_reminder_minutes", "postmortem_due_hours"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    list_display = ["incident", "policy", "state", "next_step", "next_due_at", "breached_at"]
    list_filter = ["state"]


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "incident", "kind", "target", "state", "attempts", "response_code"]
    list_filter = ["state", "kind", "channel"]


@admin.register(ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "target", "label"]


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ["user", "contact_method", "delay_minutes"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "enabled"]
    filter_horizontal = ["severities"]


@admin.register(StatusSubscriber)
class StatusSubscriberAdmin(admin.ModelAdmin):
    list_display = ["kind", "address", "created_at", "confirmed_at", "unsubscribed_at"]
    list_filter = ["kind"]
    search_fields = ["address"]
    readonly_fields = ["token"]
    filter_horizontal = ["components"]
