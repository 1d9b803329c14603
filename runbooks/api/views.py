"""REST API v1 for runbooks: thin views that validate, call a service, render.

Managers edit runbooks and clusters; responders start runs, approve, check off,
retry and cancel; viewers read.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import Incident
from portal.models import OrgRole
from portal.pagination import NewestFirstCursorPagination
from runbooks import selectors, services
from runbooks.actions import ACTIONS
from runbooks.api import serializers as s
from runbooks.models import Checklist, Cluster, HttpEndpoint, Run, Runbook, StepRun
from runbooks.services.library import import_preview


def _input(serializer_class: type, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _run_reply(run: Run | int, code: int = status.HTTP_200_OK) -> Response:
    pk = run if isinstance(run, int) else run.pk
    return Response(s.RunSerializer(selectors.run_detail_qs().get(pk=pk)).data, status=code)


def _save_kwargs(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": data["title"], "description": data["description"], "services": data["services"], "tags": data["tags"],
        "alert_names": data["alert_names"], "steps": [services.StepInput(**step) for step in data["steps"]],
    }  # fmt: skip


@extend_schema_view(
    list=extend_schema(summary="List runbooks", parameters=[
        OpenApiParameter("q", str, description="Words in the title or description."),
        OpenApiParameter("service", str, description="A service slug."),
    ]),
    retrieve=extend_schema(summary="Get a runbook with its steps"),
    destroy=extend_schema(summary="Delete a runbook that has never run"),
)  # fmt: skip
class RunbookViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = s.RunbookSerializer
    write_role = OrgRole.MANAGER
    action_roles = {"start_run": OrgRole.RESPONDER, "import_preview": OrgRole.MANAGER, "import_markdown": OrgRole.MANAGER}

    def get_queryset(self) -> QuerySet[Runbook]:
        if self.action == "list":
            return selectors.runbook_list_qs(q=self.request.query_params.get("q", ""),
                                             service=self.request.query_params.get("service", "")).prefetch_related("steps")  # fmt: skip
        return selectors.runbook_detail_qs()

    @extend_schema(summary="Create a runbook", request=s.RunbookInput, responses={201: s.RunbookSerializer})
    def create(self, request: Request) -> Response:
        runbook = services.runbook_save(by=request.user, **_save_kwargs(_input(s.RunbookInput, request)))
        return Response(s.RunbookSerializer(selectors.runbook_detail_qs().get(pk=runbook.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Replace a runbook and its steps", request=s.RunbookInput, responses=s.RunbookSerializer)
    def update(self, request: Request, pk: str) -> Response:
        runbook = self.get_object()
        services.runbook_save(by=request.user, runbook=runbook, **_save_kwargs(_input(s.RunbookInput, request)))
        return Response(s.RunbookSerializer(selectors.runbook_detail_qs().get(pk=runbook.pk)).data)

    def perform_destroy(self, instance: Runbook) -> None:
        services.runbook_delete(runbook=instance, by=self.request.user)

    @extend_schema(summary="Preview a Markdown import", request=s.ImportInput, responses=s.ImportPreview,
                   description="What the import would create: runbooks, steps (automated or manual) and unknown services. Saves nothing.")  # fmt: skip
    @action(detail=False, methods=["post"], url_path="import/preview")
    def import_preview(self, request: Request) -> Response:
        data = _input(s.ImportInput, request)
        return Response(import_preview(data["markdown"]))

    @extend_schema(summary="Import Markdown runbooks", request=s.ImportInput, responses={201: s.RunbookSerializer(many=True)})
    @action(detail=False, methods=["post"], url_path="import")
    def import_markdown(self, request: Request) -> Response:
        data = _input(s.ImportInput, request)
        created = services.runbook_import(text=data["markdown"], by=request.user)
        fresh = selectors.runbook_detail_qs().filter(pk__in=[r.pk for r in created]).order_by("id")
        return Response(s.RunbookSerializer(fresh, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Start a run", request=s.RunStartInput, responses={201: s.RunSerializer},
                   description="On an incident (`incident`) or as a drill; `dry_run` sends Kubernetes changes with dryRun=All.")  # fmt: skip
    @action(detail=True, methods=["post"], url_path="runs")
    def start_run(self, request: Request, pk: str) -> Response:
        runbook = self.get_object()
        data = _input(s.RunStartInput, request)
        run = services.run_start(runbook=runbook, by=request.user, incident=data["incident"], cluster=data["cluster"],
                                 namespace=data["namespace"], dry_run=data["dry_run"])  # fmt: skip
        return _run_reply(run, status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List runs", parameters=[
        OpenApiParameter("incident", str, description="INC-42"), OpenApiParameter("runbook", int),
    ]),
    retrieve=extend_schema(summary="Get a run with every step's state and result"),
)  # fmt: skip
class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.RunSerializer
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self) -> QuerySet[Run]:
        params = self.request.query_params
        incident = Incident.id_from_reference(params["incident"]) if params.get("incident") else None
        runbook = int(params["runbook"]) if params.get("runbook", "").isdigit() and len(params["runbook"]) < 18 else None
        qs = selectors.run_detail_qs()
        if incident is not None:
            qs = qs.filter(incident_id=incident)
        if runbook is not None:
            qs = qs.filter(runbook_id=runbook)
        return qs

    @extend_schema(summary="Cancel a run", request=s.RunCancelInput, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        run = self.get_object()
        data = _input(s.RunCancelInput, request)
        services.run_cancel(run=run, by=request.user, reason=data["reason"])
        return _run_reply(run)


@extend_schema_view(retrieve=extend_schema(summary="Get one step's state and result"))
class StepRunViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.StepRunSerializer

    def get_queryset(self) -> QuerySet[StepRun]:
        return selectors.step_run_qs()

    def _reply(self, step_run: StepRun) -> Response:
        return Response(s.StepRunSerializer(selectors.step_run_qs().get(pk=step_run.pk)).data)

    @extend_schema(summary="Approve a step", request=None, responses=s.StepRunSerializer,
                   description="By someone other than the person who started the run.")  # fmt: skip
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        return self._reply(services.step_approve(step_run=self.get_object(), by=request.user))

    @extend_schema(summary="Check off a step", request=s.StepCompleteInput, responses=s.StepRunSerializer,
                   description="A manual step, a step awaiting approval (skip only), or one whose outcome is unknown.")  # fmt: skip
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        data = _input(s.StepCompleteInput, request)
        return self._reply(services.step_complete(step_run=self.get_object(), by=request.user, outcome=data["outcome"],
                                                  note=data["note"]))  # fmt: skip

    @extend_schema(summary="Retry a failed or unknown-outcome step", request=None, responses=s.StepRunSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        return self._reply(services.step_retry(step_run=self.get_object(), by=request.user))


class ClusterViewSet(viewsets.ModelViewSet):
    serializer_class = s.ClusterSerializer
    queryset = Cluster.objects.all()
    write_role = OrgRole.MANAGER
    pagination_class = None
    lookup_field = "name"

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = services.cluster_save(name=data["name"], namespaces=data.get("namespaces", []), by=self.request.user,
                                                    context=data.get("context", ""), in_cluster=data.get("in_cluster", False))  # fmt: skip

    def perform_update(self, serializer: Any) -> None:
        data = {**s.ClusterSerializer(serializer.instance).data, **serializer.validated_data}
        serializer.instance = services.cluster_save(name=serializer.instance.name, namespaces=data["namespaces"], by=self.request.user,
                                                    context=data["context"], in_cluster=data["in_cluster"])  # fmt: skip


class HttpEndpointViewSet(viewsets.ModelViewSet):
    serializer_class = s.HttpEndpointSerializer
    queryset = HttpEndpoint.objects.all()
    write_role = OrgRole.MANAGER
    pagination_class = None
    lookup_field = "name"

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.endpoint_save(by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        data = {"url": serializer.instance.url, "headers": serializer.instance.headers,
                "timeout_seconds": serializer.instance.timeout_seconds, **serializer.validated_data}  # fmt: skip
        data["name"] = serializer.instance.name
        serializer.instance = services.endpoint_save(by=self.request.user, **data)


@extend_schema_view(create=extend_schema(summary="Attach a response checklist to a severity (and optionally a service)"))
class ChecklistViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ChecklistSerializer
    queryset = Checklist.objects.select_related("severity", "service")
    write_role = OrgRole.MANAGER
    pagination_class = None

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.checklist_attach(by=self.request.user, **serializer.validated_data)

    def perform_destroy(self, instance: Checklist) -> None:
        services.checklist_detach(checklist=instance, by=self.request.user)


class ActionListView(APIView):
    @extend_schema(summary="The actions automated steps can take, with their parameter schemas", responses=s.ActionSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response([{"name": a.name, "label": a.label, "mutating": a.mutating, "schema": a.schema} for a in ACTIONS.values()])


