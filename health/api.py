"""REST API v1 for health probes: thin views that validate types, call a service, render.

Anyone signed in reads probes and results; only managers configure probes or run
them now. Credentials are accepted and never returned."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from health import selectors, services
from health.models import Outcome, Probe, ProbeKind, RollupPeriod
from health.serializers import (
    ProbeInput,
    ProbeResultSerializer,
    ProbeRollupSerializer,
    ProbeSerializer,
    RunNowSerializer,
)
from portal.errors import ValidationFailed
from portal.models import OrgRole
from portal.pagination import NewestFirstCursorPagination
from portal.text import clean_text

LIST_FILTERS = [
    OpenApiParameter("q", str, description="Search in probe and service names."),
    OpenApiParameter("kind", str, enum=ProbeKind.values),
    OpenApiParameter("status", str, enum=Outcome.values),
    OpenApiParameter("service", str, description="Service slug."),
    OpenApiParameter("enabled", bool),
]


class ResultPagination(NewestFirstCursorPagination):
    ordering = ("-started_at", "-id")


class RollupPagination(NewestFirstCursorPagination):
    ordering = ("-bucket", "-id")


@extend_schema_view(
    list=extend_schema(summary="List probes", parameters=LIST_FILTERS),
    retrieve=extend_schema(summary="Get a probe"),
    destroy=extend_schema(summary="Delete a probe", description="Its open alert resolves as if it had recovered."),
)
class ProbeViewSet(viewsets.ModelViewSet):
    serializer_class = ProbeSerializer
    write_role = OrgRole.MANAGER
    action_roles = {"run": OrgRole.MANAGER}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Probe]:
        params = {name: clean_text(value, max_length=200) for name, value in self.request.query_params.items()}
        enabled = params.get("enabled")
        return selectors.probe_list_qs(
            q=params.get("q", "")[:100], kind=params.get("kind", ""), status=params.get("status", ""),
            service=params.get("service", ""), enabled=None if enabled is None else enabled.lower() in ("1", "true", "yes"),
        )  # fmt: skip

    def _input(self, *, partial: bool) -> dict[str, Any]:
        serializer = ProbeInput(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _detail(self, probe: Probe, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.probe_detail_qs().get(pk=probe.pk)
        fresh.new_heartbeat_token = getattr(probe, "new_heartbeat_token", None)  # type: ignore[attr-defined]
        return Response(ProbeSerializer(fresh).data, status=code)

    @extend_schema(summary="Configure a probe", request=ProbeInput, responses={201: ProbeSerializer},
                   description="A heartbeat probe's push URL (with its token) is in this response only.")  # fmt: skip
    def create(self, request: Request) -> Response:
        probe = services.probe_create(by=request.user, **self._input(partial=False))
        return self._detail(probe, status.HTTP_201_CREATED)

    @extend_schema(summary="Change a probe", request=ProbeInput, responses=ProbeSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        probe = self.get_object()
        return self._detail(services.probe_update(probe=probe, by=request.user, **self._input(partial=True)))

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise Http404  # PATCH only: a probe is changed field by field

    def perform_destroy(self, instance: Probe) -> None:
        services.probe_delete(probe=instance, by=self.request.user)

    @extend_schema(summary="Run a probe now", request=None, responses=RunNowSerializer,
                   description="Runs it once from the web process and returns the outcome and each condition's evaluation; not recorded.")  # fmt: skip
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str) -> Response:
        run = services.probe_run_now(probe=self.get_object())
        return Response(RunNowSerializer(run).data)

    @extend_schema(summary="A probe's results", responses=ProbeResultSerializer(many=True),
                   parameters=[OpenApiParameter("location", str, description="Location name.")])  # fmt: skip
    @action(detail=True, methods=["get"], pagination_class=ResultPagination)
    def results(self, request: Request, pk: str) -> Response:
        probe = self.get_object()
        page = self.paginate_queryset(selectors.results_qs(probe.pk, location=clean_text(request.query_params.get("location", ""), max_length=200)))
        return self.get_paginated_response(ProbeResultSerializer(page, many=True).data)

    @extend_schema(summary="A probe's rollups", responses=ProbeRollupSerializer(many=True),
                   parameters=[OpenApiParameter("period", str, enum=RollupPeriod.values, description="Default: hour."),
                               OpenApiParameter("location", str, description="Location name.")])  # fmt: skip
    @action(detail=True, methods=["get"], pagination_class=RollupPagination)
    def rollups(self, request: Request, pk: str) -> Response:
        probe = self.get_object()
        period = request.query_params.get("period", RollupPeriod.HOUR)
        if period not in RollupPeriod.values:
            raise ValidationFailed("Unknown period.", fields={"period": [f"One of {', '.join(RollupPeriod.values)}."]})
        rows = selectors.rollups_qs(probe.pk, period=period, location=clean_text(request.query_params.get("location", ""), max_length=200))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ProbeRollupSerializer(page, many=True).data)
