"""Admin for every model of the incidents app.

Incident workflows (status, roles, impact, updates) still go through the
services from the war room and the API; the admin is for configuration and for
looking things up. Timeline events are read-only here, as everywhere. What a
service guards is read-only here or saved through that service: an incident's
title, summary and tags (their timeline entry), a maintenance window's status
and a postmortem's status (their transitions and the required-sections gate),
an integration's routing (its validation, on the integrations page).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from incidents import services
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


class ThroughServiceAdmin(CleanTextAdminMixin, admin.ModelAdmin):
    """Saves the row's own fields through the catalogue service (cleaned text, an
    audit line, an event that refreshes dashboards and the public snapshot), as
    the API does. The change list's editable columns are saved the same way."""

    instance_arg = ""
    create_service: Any = None
    update_service: Any = None

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        model = type(obj)
        own = {f.name for f in model._meta.concrete_fields if not f.primary_key and f.editable}
        names = form.changed_data if change else form.cleaned_data
        fields = {name: form.cleaned_data[name] for name in names if name in own}
        if change:
            saved = self.update_service(**{self.instance_arg: obj}, by=request.user, **fields)
        else:
            saved = self.create_service(by=request.user, **fields)
        for field in model._meta.concrete_fields:  # the admin goes on with `obj` (inlines, messages)
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding, obj._state.db = False, saved._state.db


@admin.register(ServiceGroup)
class ServiceGroupAdmin(ThroughServiceAdmin):
    instance_arg = "group"
    create_service = staticmethod(services.service_group_create)
    update_service = staticmethod(services.service_group_update)
    list_display = ["name", "slug", "display_order"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class ServiceLinkInline(CleanTextAdminMixin, admin.TabularInline):
    model = ServiceLink
    extra = 0


class ServiceDependencyFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        for form in self.forms:
            other = (getattr(form, "cleaned_data", None) or {}).get("depends_on")
            if other is not None and self.instance.pk is not None and other.pk == self.instance.pk:
                form.add_error("depends_on", "A service cannot depend on itself.")


class ServiceDependencyInline(admin.TabularInline):
    model = ServiceDependency
    formset = ServiceDependencyFormSet
    fk_name = "service"
    extra = 0
    autocomplete_fields = ["depends_on"]


@admin.register(Service)
class ServiceAdmin(ThroughServiceAdmin):
    # Links and dependencies (the inlines) are saved through the service too: the
    # formsets validate the rows, `service_update` writes them with its audit line
    # and event.
    instance_arg = "service"
    create_service = staticmethod(services.service_create)
    update_service = staticmethod(services.service_update)
    list_display = ["name", "slug", "group", "visibility", "team", "display_order"]
    list_filter = ["visibility", "group", "team"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ServiceLinkInline, ServiceDependencyInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        form.save_m2m()
        relations: dict[str, Any] = {}
        for formset in formsets:
            # The admin's change message reads what `formset.save()` would have set;
            # the service's own audit line records the change instead.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            rows = [f.cleaned_data for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
            if formset.model is ServiceLink:
                relations["links"] = [{"kind": r["kind"], "label": r["label"], "url": r["url"]} for r in rows]
            elif formset.model is ServiceDependency:
                relations["depends_on"] = [r["depends_on"] for r in rows]
        if relations:
            services.service_update(service=form.instance, by=request.user, **relations)


@admin.register(Severity)
class SeverityAdmin(ThroughServiceAdmin):
    instance_arg = "severity"
    create_service = staticmethod(services.severity_create)
    update_service = staticmethod(services.severity_update)
    list_display = ["name", "rank", "colour", "response_target", "pages"]
    list_editable = ["colour", "response_target", "pages"]
    search_fields = ["name"]

    def get_deleted_objects(
        self, objs: Sequence[Severity] | QuerySet[Severity], request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
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
    fields = readonly_fields = ("service", "impact", "updated_at")


class RoleInline(ReadOnlyInline):
    model = RoleAssignment
    fields = readonly_fields = ("role", "user", "started_at", "ended_at", "assigned_by")


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

    def save_model(self, request: HttpRequest, obj: Incident, form: Any, change: bool) -> None:
        # Through the service, so the change has its timeline entry and its event.
        data = form.cleaned_data
        services.incident_update_details(
            incident=obj.pk, by=request.user, title=data["title"], summary=data["summary"],
            tags=[tag.name for tag in data["tags"]],
        )  # fmt: skip

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Not form.save_m2m(): the service set the tags. The inlines are read-only.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

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
    fields = readonly_fields = ("service", "old_status", "new_status")


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
    # Status moves through maintenance_change_status (its transitions, timestamps
    # and public notice), from the maintenance page or the API.
    readonly_fields = ["status", "started_at", "completed_at", "created_by", "created_at", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # scheduled through maintenance_schedule (page or API)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ThroughServiceAdmin):
    instance_arg = "template"
    create_service = staticmethod(services.message_template_create)
    update_service = staticmethod(services.message_template_update)
    list_display = ["name", "kind", "status", "updated_at"]
    list_filter = ["kind", "status"]
    search_fields = ["name", "body"]


class PostmortemTemplateAdminForm(forms.ModelForm):
    class Meta:
        model = PostmortemTemplate
        fields = ["name", "description", "is_default", "sections"]

    def _get_validation_exclusions(self) -> set[str]:
        # The one-default constraint is the service's to keep: making this template
        # the default takes it from the previous one in the same transaction.
        return set(super()._get_validation_exclusions()) | {"is_default"}  # type: ignore[misc]  # a private ModelForm hook the stubs omit

    def clean_sections(self) -> Any:
        """The sections as the template services store them, or every error by index."""
        from incidents.services.postmortem_templates import clean_sections
        from portal.errors import ValidationFailed

        value = self.cleaned_data.get("sections")
        try:
            return clean_sections(value if isinstance(value, list) else [value] if value is not None else [])
        except ValidationFailed as exc:
            raise forms.ValidationError([f"{name}: {' '.join(messages)}" for name, messages in exc.fields.items()]) from None


@admin.register(PostmortemTemplate)
class PostmortemTemplateAdmin(CleanTextAdminMixin, admin.ModelAdmin):
    """Saved through the template services (the one default taken over, an audit line)."""

    form = PostmortemTemplateAdminForm
    list_display = ["name", "is_default"]
    search_fields = ["name"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        from incidents.services import postmortem_templates as template_services

        data = {name: form.cleaned_data[name] for name in ("name", "description", "is_default", "sections")}
        if change:
            saved = template_services.postmortem_template_update(template=obj.pk, by=request.user, **data)
        else:
            saved = template_services.postmortem_template_create(by=request.user, **data)
        obj.pk = saved.pk


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
    # Status moves through postmortem_change_status, which refuses to publish
    # while required sections are empty.
    readonly_fields = ["incident", "status", "published_at", "created_at", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # started from the incident through postmortem_start


@admin.register(ActionItem)
class ActionItemAdmin(CleanTextAdminMixin, admin.ModelAdmin):
    list_display = ["title", "postmortem", "owner", "priority", "status", "due_date"]
    list_filter = ["status", "priority", "due_date"]
    search_fields = ["title"]
    raw_id_fields = ["postmortem"]
from incidents.integrations import admin as _integrations_admin  # noqa: E402,F401  (alert ingestion models)
from incidents.oncall import admin as _oncall_admin  # noqa: E402, F401  (on-call, notifications, subscribers)
