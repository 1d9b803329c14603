"""REST API v1 for the incidents app: thin views that validate, call a service, render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from incidents import selectors, services, templating
from incidents.api import maintenance_serializers as ms
from incidents.api import postmortem_serializers as ps
from incidents.api import serializers as s
from incidents.api.filters import IncidentFilter, MaintenanceFilter
from incidents.models import (
    ActionItem,
    Incident,
    MaintenanceRecurrence,
    MessageTemplate,
    Postmortem,
    Service,
    ServiceGroup,
    Severity,
    TimelineEvent,
)
from incidents.services import recurrence as recurrence_services
from portal.errors import ValidationFailed
from portal.models import OrgRole
from portal.pagination import NewestFirstCursorPagination, TimelineCursorPagination

# Only what a SlugField holds reaches the query: anything else is a 404 at routing.
SLUG = r"[-a-zA-Z0-9_]+"
INCIDENT_REF = OpenApiParameter("id", str, OpenApiParameter.PATH, description="Incident reference (INC-42) or id (42).")


def _reply(serializer_class: type, instance: Any, *, code: int = status.HTTP_200_OK, context: dict[str, Any] | None = None) -> Response:
    return Response(serializer_class(instance, context=context or {}).data, status=code)


class ConfigViewSet(viewsets.ModelViewSet):
    """Catalogue configuration: anyone reads, managers write.

    The serializer validates and renders; the write is the catalogue service
    named by `create_service`/`update_service`/`delete_service` (cleaned text,
    an audit line, a domain event after commit).
    """

    write_role = OrgRole.MANAGER
    instance_arg: str = ""
    # The catalogue service functions, set by each subclass (as staticmethods).
    create_service: Callable[..., Any]
    update_service: Callable[..., Any]
    delete_service: Callable[..., None]

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = self.create_service(by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = self.update_service(
            **{self.instance_arg: serializer.instance}, by=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance: Any) -> None:
        self.delete_service(**{self.instance_arg: instance}, by=self.request.user)


@extend_schema_view(
    list=extend_schema(summary="List severities"),
    retrieve=extend_schema(summary="Get a severity"),
)
class SeverityViewSet(ConfigViewSet):
    queryset = Severity.objects.all()
    serializer_class = s.SeveritySerializer
    pagination_class = None
    instance_arg = "severity"
    create_service = staticmethod(services.severity_create)
    update_service = staticmethod(services.severity_update)
    delete_service = staticmethod(services.severity_delete)

    @extend_schema(summary="Delete a severity no incident uses", responses={204: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().destroy(request, *args, **kwargs)


class ServiceGroupViewSet(ConfigViewSet):
    queryset = ServiceGroup.objects.all()
    serializer_class = s.ServiceGroupSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG
    pagination_class = None
    instance_arg = "group"
    create_service = staticmethod(services.service_group_create)
    update_service = staticmethod(services.service_group_update)
    delete_service = staticmethod(services.service_group_delete)


class ServiceViewSet(ConfigViewSet):
    serializer_class = s.ServiceSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG
    filterset_fields = ["visibility", "group__slug"]
    instance_arg = "service"
    create_service = staticmethod(services.service_create)
    update_service = staticmethod(services.service_update)
    delete_service = staticmethod(services.service_delete)

    def get_queryset(self) -> QuerySet[Service]:
        return selectors.service_list_qs()

    @extend_schema(summary="Delete a service no incident names", responses={204: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().destroy(request, *args, **kwargs)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "statuses": selectors.service_statuses()}


def _message_template(ref: str) -> MessageTemplate:
    """A template by id or name, or a field error."""
    template = MessageTemplate.objects.filter(name=ref).first()
    if template is None and ref.isascii() and ref.isdigit() and len(ref) < 18:
        template = MessageTemplate.objects.filter(pk=int(ref)).first()
    if template is None:
        raise ValidationFailed("No such message template.", fields={"template": [f"No message template with id or name {ref!r}."]})
    return template


class MessageTemplateViewSet(ConfigViewSet):
    queryset = MessageTemplate.objects.all()
    serializer_class = s.MessageTemplateSerializer
    pagination_class = None
    filterset_fields = ["kind"]
    instance_arg = "template"
    create_service = staticmethod(services.message_template_create)
    update_service = staticmethod(services.message_template_update)
    delete_service = staticmethod(services.message_template_delete)


@extend_schema_view(
    list=extend_schema(summary="List incidents", description="Newest first, cursor-paginated."),
    retrieve=extend_schema(summary="Get an incident", parameters=[INCIDENT_REF]),
)
class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pagination_class = NewestFirstCursorPagination
    filterset_class = IncidentFilter
    lookup_value_regex = r"[^/]+"

    def get_queryset(self) -> QuerySet[Incident]:
        return selectors.incident_list_qs()

    def get_serializer_class(self) -> type:
        return s.IncidentListSerializer if self.action == "list" else s.IncidentDetailSerializer

    def list(self, request: Request) -> Response:
        # Rows, not model instances: see selectors.incident_list_rows. The cursor
        # paginator reads its position from dict rows as well.
        # The filter set (a form and a deep copy of every filter) is built only
        # when a filter is asked for: the plain newest-first page is the common read.
        rows = selectors.incident_list_values()
        if not request.query_params.keys().isdisjoint(IncidentFilter.base_filters):
            rows = self.filter_queryset(rows)
        page: list[dict[str, Any]] = self.paginate_queryset(rows) or []  # rows are dicts (values())
        return self.get_paginated_response(selectors.incident_list_rows(page))

    def retrieve(self, request: Request, pk: str) -> Response:
        # Plain rows, as for the list (selectors.incident_detail_data): the same
        # output as IncidentDetailSerializer, in two statements.
        pk_int = Incident.id_from_reference(pk)
        data = selectors.incident_detail_data(pk_int) if pk_int is not None else None
        if data is None:
            raise Http404
        return Response(data)

    def get_object(self) -> Incident:
        pk = Incident.id_from_reference(str(self.kwargs["pk"]))
        if pk is None:
            raise Http404
        incident = selectors.incident_detail_qs().filter(pk=pk).first()
        if incident is None:
            raise Http404
        self.check_object_permissions(self.request, incident)
        return incident

    def _input(self, serializer_class: type) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _detail(self, incident: Incident, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.incident_detail_qs().get(pk=incident.pk)
        return _reply(s.IncidentDetailSerializer, fresh, code=code)

    @extend_schema(summary="Declare an incident", request=s.IncidentDeclareInput, responses={201: s.IncidentDetailSerializer})
    def create(self, request: Request) -> Response:
        data = self._input(s.IncidentDeclareInput)
        incident = services.incident_declare(
            title=data["title"],
            severity=data["severity"],
            summary=data["summary"],
            visibility=data["visibility"],
            impacts={item["service"]: item["impact"] for item in data["services"]},
            commander=data["commander"],
            tags=data["tags"],
            started_at=data["started_at"],
            by=request.user,
        )
        return self._detail(incident, status.HTTP_201_CREATED)

    @extend_schema(summary="Edit title, summary or tags", parameters=[INCIDENT_REF], request=s.IncidentUpdateInput,
                   responses=s.IncidentDetailSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        incident = self.get_object()
        data = self._input(s.IncidentUpdateInput)
        incident = services.incident_update_details(incident=incident, by=request.user, **data)
        return self._detail(incident)

    @extend_schema(summary="Change status", parameters=[INCIDENT_REF], request=s.StatusInput, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request: Request, pk: str) -> Response:
        data = self._input(s.StatusInput)
        incident = services.incident_change_status(incident=self.get_object(), by=request.user, **data)
        return self._detail(incident)

    @extend_schema(summary="Change severity", parameters=[INCIDENT_REF], request=s.SeverityInput, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def severity(self, request: Request, pk: str) -> Response:
        data = self._input(s.SeverityInput)
        incident = services.incident_change_severity(incident=self.get_object(), by=request.user, **data)
        return self._detail(incident)

    @extend_schema(summary="Assign or clear a role", parameters=[INCIDENT_REF], request=s.RoleInput, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def roles(self, request: Request, pk: str) -> Response:
        data = self._input(s.RoleInput)
        incident = services.incident_assign_role(incident=self.get_object(), role=data["role"], user=data["user"], by=request.user)
        return self._detail(incident)

    @extend_schema(summary="Set a service's impact (null removes it)", parameters=[INCIDENT_REF], request=s.ImpactInput,
                   responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def impacts(self, request: Request, pk: str) -> Response:
        data = self._input(s.ImpactInput)
        incident = services.incident_set_impact(incident=self.get_object(), service=data["service"], impact=data["impact"], by=request.user)
        return self._detail(incident)

    @extend_schema(summary="Make public or internal", parameters=[INCIDENT_REF], request=s.VisibilityInput, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def visibility(self, request: Request, pk: str) -> Response:
        data = self._input(s.VisibilityInput)
        incident = services.incident_change_visibility(incident=self.get_object(), visibility=data["visibility"], by=request.user)
        return self._detail(incident)

    @extend_schema(summary="Acknowledge (stops paging, also when a reopened incident is paged again)", parameters=[INCIDENT_REF],
                   request=None, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        from incidents.oncall.paging import escalation_acknowledge

        incident = escalation_acknowledge(incident_id=self.get_object().pk, by=request.user)
        return self._detail(incident)

    @extend_schema(summary="Add a note to the timeline", parameters=[INCIDENT_REF], request=s.NoteInput,
                   responses={201: s.TimelineEventSerializer})
    @action(detail=True, methods=["post"])
    def notes(self, request: Request, pk: str) -> Response:
        data = self._input(s.NoteInput)
        event = services.incident_add_note(incident=self.get_object(), by=request.user, **data)
        return _reply(s.TimelineEventSerializer, event, code=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], summary="List public updates", parameters=[INCIDENT_REF], responses=s.PublicUpdateSerializer(many=True))
    @extend_schema(methods=["POST"], summary="Post a public update", parameters=[INCIDENT_REF], request=s.PublicUpdateInput,
                   responses={201: s.PublicUpdateSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filterset_class=None)
    def updates(self, request: Request, pk: str) -> Response:
        incident = self.get_object()
        if request.method == "GET":
            qs = incident.public_updates.select_related("author").prefetch_related("components__service")
            return Response(s.PublicUpdateSerializer(qs, many=True).data)
        data = self._input(s.PublicUpdateInput)
        if data.get("template"):
            body, update_status = templating.incident_update_from_template(
                incident=incident, template=_message_template(data["template"]), body=data.get("body"),
                status=data["status"], values=data["values"], timezone_name=data["timezone"],
            )  # fmt: skip
        else:  # PublicUpdateInput asks for a body when there is no template
            body, update_status = data["body"], data["status"]
        update = services.incident_post_update(
            incident=incident,
            body=body,
            status=update_status,
            components={item["service"]: item["impact"] for item in data["components"]},
            display_at=data["display_at"],
            by=request.user,
        )
        return _reply(s.PublicUpdateSerializer, update, code=status.HTTP_201_CREATED)

    @extend_schema(summary="Timeline, newest first (cursor-paginated)", parameters=[INCIDENT_REF],
                   responses=s.TimelineEventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=TimelineCursorPagination, filterset_class=None)
    def timeline(self, request: Request, pk: str) -> Response:
        pk_int = Incident.id_from_reference(pk)
        if pk_int is None:
            raise Http404
        page = self.paginate_queryset(selectors.timeline_qs(pk_int))
        # Events exist only for an existing incident, so the existence check is
        # needed only when the page is empty (a second query saved on every read).
        if not page and not Incident.objects.filter(pk=pk_int).exists():
            raise Http404
        return self.get_paginated_response(s.TimelineEventSerializer(page, many=True).data)

    @extend_schema(summary="Pin or unpin a timeline event", parameters=[INCIDENT_REF, OpenApiParameter("event_id", int, OpenApiParameter.PATH)],
                   request=s.PinInput, responses=s.TimelineEventSerializer)
    @action(detail=True, methods=["post"], url_path=r"timeline/(?P<event_id>\d{1,18})/pin")
    def pin(self, request: Request, pk: str, event_id: str) -> Response:
        incident = self.get_object()
        data = self._input(s.PinInput)
        event = TimelineEvent.objects.filter(pk=int(event_id), incident=incident).first()
        if event is None:
            raise Http404
        event = services.timeline_set_pinned(event=event, pinned=data["pinned"], by=request.user)
        return _reply(s.TimelineEventSerializer, event)


class MaintenanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ms.MaintenanceWindowSerializer
    filterset_class = MaintenanceFilter

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.maintenance_qs()

    def _input(self, serializer_class: type, partial: bool = False) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(summary="Schedule a maintenance window", request=ms.MaintenanceInput, responses={201: ms.MaintenanceWindowSerializer})
    def create(self, request: Request) -> Response:
        window = services.maintenance_schedule(by=request.user, **self._input(ms.MaintenanceInput))
        return _reply(ms.MaintenanceWindowSerializer, window, code=status.HTTP_201_CREATED)

    @extend_schema(summary="Edit a maintenance window", request=ms.MaintenanceUpdateInput, responses=ms.MaintenanceWindowSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        window = self.get_object()
        window = services.maintenance_update(window=window, by=request.user, **self._input(ms.MaintenanceUpdateInput))
        return _reply(ms.MaintenanceWindowSerializer, window)

    @extend_schema(summary="Change a maintenance window's status", request=ms.MaintenanceStatusInput, responses=ms.MaintenanceWindowSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request: Request, pk: str) -> Response:
        window = services.maintenance_change_status(window=self.get_object(), by=request.user, **self._input(ms.MaintenanceStatusInput))
        return _reply(ms.MaintenanceWindowSerializer, window)


class PostmortemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ps.PostmortemSerializer
    filterset_fields = ["status"]

    def get_queryset(self) -> QuerySet[Postmortem]:
        return selectors.postmortem_qs()

    def _input(self, serializer_class: type) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _detail(self, postmortem: Postmortem, code: int = status.HTTP_200_OK) -> Response:
        return _reply(ps.PostmortemSerializer, selectors.postmortem_qs().get(pk=postmortem.pk), code=code)

    @extend_schema(summary="Start the postmortem of an incident", request=ps.PostmortemStartInput, responses={201: ps.PostmortemSerializer})
    def create(self, request: Request) -> Response:
        data = self._input(ps.PostmortemStartInput)
        pk = Incident.id_from_reference(data["incident"])
        incident = Incident.objects.filter(pk=pk).first() if pk is not None else None
        if incident is None:
            raise ValidationFailed("No such incident.", fields={"incident": [f"No incident {data['incident']!r}."]})
        postmortem = services.postmortem_start(incident=incident, by=request.user, template=data["template"])
        return self._detail(postmortem, status.HTTP_201_CREATED)

    @extend_schema(summary="Edit sections and impact", request=ps.PostmortemUpdateInput, responses=ps.PostmortemSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        postmortem = services.postmortem_update(postmortem=self.get_object(), by=request.user, **self._input(ps.PostmortemUpdateInput))
        return self._detail(postmortem)

    @extend_schema(summary="Move to draft, in review or published", request=ps.PostmortemStatusInput, responses=ps.PostmortemSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request: Request, pk: str) -> Response:
        postmortem = services.postmortem_change_status(postmortem=self.get_object(), by=request.user, **self._input(ps.PostmortemStatusInput))
        return self._detail(postmortem)

    @extend_schema(summary="Add an action item", request=ps.ActionItemInput, responses={201: ps.ActionItemSerializer})
    @action(detail=True, methods=["post"], url_path="action-items")
    def action_items(self, request: Request, pk: str) -> Response:
        item = services.action_item_create(postmortem=self.get_object(), by=request.user, **self._input(ps.ActionItemInput))
        return _reply(ps.ActionItemSerializer, item, code=status.HTTP_201_CREATED)


class ActionItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ps.ActionItemSerializer
    filterset_fields = ["status", "priority", "owner"]

    def get_queryset(self) -> QuerySet[ActionItem]:
        return ActionItem.objects.select_related("owner")

    @extend_schema(summary="Edit an action item", request=ps.ActionItemUpdateInput, responses=ps.ActionItemSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        serializer = ps.ActionItemUpdateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = services.action_item_update(item=self.get_object(), by=request.user, **serializer.validated_data)
        return _reply(ps.ActionItemSerializer, item)


class MaintenanceRecurrenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Recurring maintenance (responders write, as for windows); its next
    occurrences are listed as ordinary maintenance windows."""

    serializer_class = ms.MaintenanceRecurrenceSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Any]:
        return MaintenanceRecurrence.objects.prefetch_related("services")

    @extend_schema(summary="Create a recurring maintenance", request=ms.MaintenanceRecurrenceInput, responses={201: ms.MaintenanceRecurrenceSerializer})
    def create(self, request: Request) -> Response:
        data = ms.MaintenanceRecurrenceInput(data=request.data)
        data.is_valid(raise_exception=True)
        given = dict(data.validated_data)
        given["timezone_name"] = given.pop("timezone")
        recurrence = recurrence_services.maintenance_recurrence_create(by=request.user, **given)
        return _reply(ms.MaintenanceRecurrenceSerializer, recurrence, code=status.HTTP_201_CREATED)

    @extend_schema(summary="Delete a recurring maintenance", description="Windows already materialised stay.", responses={204: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
