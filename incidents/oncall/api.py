"""REST API v1 for on-call: schedules and layers, overrides, escalation policies, paging
state, my contact methods and notification rules, channels, the delivery log, and
acknowledgement by a signed link."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from incidents.models import (
    Channel,
    ContactMethod,
    Escalation,
    Incident,
    NotificationDelivery,
    NotificationRule,
    ScheduleLayer,
)
from incidents.notify.api import StatusSubscriberViewSet, SubscriberMessageViewSet
from incidents.oncall import api_serializers as s
from incidents.oncall import selectors, services
from incidents.oncall.acklink import read_ack_token
from incidents.oncall.paging import escalation_acknowledge
from incidents.oncall.schedules import final_shifts, on_call_at
from portal.errors import ValidationFailed
from portal.models import OrgRole
from portal.pagination import NewestFirstCursorPagination


def _when(request: Request, name: str, default: datetime) -> datetime:
    raw = request.query_params.get(name)
    if not raw:
        return default
    value = parse_datetime(raw)
    if value is None or value.tzinfo is None:
        raise ValidationFailed(f"{name} must be an ISO 8601 time with a zone.", fields={name: ["e.g. 2026-03-29T07:00:00Z"]})
    return value


def _people(user_ids: Any) -> dict[int, dict[str, str]]:
    from django.contrib.auth import get_user_model

    return {u.pk: s.OnCallPersonSerializer.of(u) for u in get_user_model().objects.filter(pk__in=set(user_ids))}  # type: ignore[misc]


class ScheduleViewSet(viewsets.ModelViewSet):
    serializer_class = s.ScheduleSerializer
    lookup_field = "slug"
    write_role = OrgRole.MANAGER
    action_roles = {"overrides": OrgRole.RESPONDER}
    queryset = selectors.schedule_list_qs()

    @extend_schema(summary="Who is on call at a time", parameters=[OpenApiParameter("at", str, description="ISO 8601; default now")],
                   responses=s.OnCallSerializer)
    @action(detail=True, methods=["get"], url_path="on-call")
    def on_call(self, request: Request, slug: str) -> Response:
        at = _when(request, "at", timezone.now())
        user_id = on_call_at(self.get_object(), at)
        return Response({"at": at, "user": _people([user_id]).get(user_id) if user_id else None})

    @extend_schema(summary="Shifts in a range (default: the next 14 days)", responses=s.ShiftSerializer(many=True),
                   parameters=[OpenApiParameter("start", str), OpenApiParameter("end", str)])
    @action(detail=True, methods=["get"])
    def shifts(self, request: Request, slug: str) -> Response:
        start = _when(request, "start", timezone.now().replace(microsecond=0))
        end = _when(request, "end", start + timedelta(days=selectors.TIMELINE_DAYS))
        if not start < end or (end - start).days > 92:
            raise ValidationFailed("end must be after start, at most 92 days later.", fields={"end": ["Out of range."]})
        shifts = final_shifts(self.get_object(), start, end)
        people = _people(x.user_id for x in shifts)
        return Response([{"user": people.get(x.user_id), "start": x.start, "end": x.end, "layer": x.layer} for x in shifts])

    @extend_schema(summary="Add an override (someone else on call for a time range)", request=s.OverrideSerializer,
                   responses={201: s.OverrideSerializer})
    @action(detail=True, methods=["post"])
    def overrides(self, request: Request, slug: str) -> Response:
        schedule = self.get_object()
        data = s.OverrideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        override = services.override_create(schedule=schedule, by=request.user, **data.validated_data)
        return Response(s.OverrideSerializer(override).data, status=status.HTTP_201_CREATED)


class LayerViewSet(viewsets.ModelViewSet):
    serializer_class = s.LayerSerializer
    write_role = OrgRole.MANAGER
    queryset = ScheduleLayer.objects.select_related("schedule").prefetch_related("members__user")
    filterset_fields = ["schedule__slug"]


class PolicyViewSet(viewsets.ModelViewSet):
    serializer_class = s.PolicySerializer
    lookup_field = "slug"
    write_role = OrgRole.MANAGER
    queryset = selectors.policy_list_qs()


class EscalationViewSet(viewsets.ReadOnlyModelViewSet):
    """Paging state per incident: `?incident=INC-42`."""

    serializer_class = s.EscalationSerializer

    @extend_schema(parameters=[OpenApiParameter("incident", str, description="INC-42")])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Escalation]:
        qs = Escalation.objects.select_related("policy").prefetch_related("pages__user").order_by("-id")
        ref = self.request.query_params.get("incident")
        if ref:
            qs = qs.filter(incident_id=Incident.id_from_reference(ref) or 0)
        return qs


class _Mine(viewsets.GenericViewSet):
    """Everyone manages their own contact methods and rules, viewers included."""

    write_role = OrgRole.VIEWER

    def me(self) -> Any:
        """The authenticated account (the permission class refuses anonymous requests)."""
        from django.contrib.auth import get_user_model

        user = self.request.user
        if not isinstance(user, get_user_model()):
            raise NotAuthenticated()
        return user


class ContactMethodViewSet(_Mine, viewsets.ModelViewSet):
    serializer_class = s.ContactMethodSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[ContactMethod]:
        if getattr(self, "swagger_fake_view", False):
            return ContactMethod.objects.none()
        return ContactMethod.objects.filter(user=self.me())

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.contact_method_create(user=self.me(), **serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        data = {**s.ContactMethodSerializer(serializer.instance).data, **serializer.validated_data}
        services.clean_target(data["kind"], data["target"])
        serializer.save()


class NotificationRuleViewSet(_Mine, viewsets.ModelViewSet):
    serializer_class = s.NotificationRuleSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[NotificationRule]:
        if getattr(self, "swagger_fake_view", False):
            return NotificationRule.objects.none()
        return NotificationRule.objects.filter(user=self.me())

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.notification_rule_create(user=self.me(), **serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        method = serializer.validated_data.get("contact_method", serializer.instance.contact_method)
        if method.user_id != self.request.user.pk:
            raise ValidationFailed("That contact method is not yours.", fields={"contact_method": ["Not one of your contact methods."]})
        serializer.save()


class ChannelViewSet(viewsets.ModelViewSet):
    serializer_class = s.ChannelSerializer
    write_role = OrgRole.MANAGER
    read_role = OrgRole.MANAGER
    queryset = Channel.objects.prefetch_related("severities")


class DeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    """The delivery log, newest first: `?incident=INC-42`, `?channel=3`, `?state=failed`."""

    serializer_class = s.NotificationDeliverySerializer
    read_role = OrgRole.RESPONDER
    pagination_class = NewestFirstCursorPagination
    filterset_fields = ["state", "kind", "channel"]

    @extend_schema(parameters=[OpenApiParameter("incident", str, description="INC-42")])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[NotificationDelivery]:
        qs = NotificationDelivery.objects.select_related("notification", "user")
        ref = self.request.query_params.get("incident")
        if ref:
            qs = qs.filter(incident_id=Incident.id_from_reference(ref) or 0)
        return qs


class AckLinkViewSet(mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Acknowledge with the signed token of a page's link: no account needed, the token names the person."""

    serializer_class = s.AckLinkSerializer
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(summary="Acknowledge an incident with a page's signed link token", responses={200: s.AckResultSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from django.contrib.auth import get_user_model

        data = s.AckLinkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        parsed = read_ack_token(data.validated_data["token"])
        user = get_user_model().objects.filter(pk=parsed[1], is_active=True).first() if parsed else None
        if parsed is None or user is None or not Incident.objects.filter(pk=parsed[0]).exists():
            raise ValidationFailed("The link is not valid or has expired.", fields={"token": ["Invalid or expired."]})
        incident = escalation_acknowledge(incident_id=parsed[0], by=user)
        return Response({"incident": incident.reference, "acknowledged_at": incident.acknowledged_at})


router = SimpleRouter(trailing_slash=True)
router.register("schedules", ScheduleViewSet, basename="schedule")
router.register("schedule-layers", LayerViewSet, basename="schedule-layer")
router.register("escalation-policies", PolicyViewSet, basename="escalation-policy")
router.register("escalations", EscalationViewSet, basename="escalation")
router.register("contact-methods", ContactMethodViewSet, basename="contact-method")
router.register("notification-rules", NotificationRuleViewSet, basename="notification-rule")
router.register("notification-channels", ChannelViewSet, basename="notification-channel")
router.register("notification-deliveries", DeliveryViewSet, basename="notification-delivery")
router.register("acknowledge-links", AckLinkViewSet, basename="acknowledge-link")
router.register("status-subscribers", StatusSubscriberViewSet, basename="status-subscriber")
router.register("subscriber-messages", SubscriberMessageViewSet, basename="subscriber-message")
urlpatterns = router.urls
