"""Pages of the health app: the probes list, the probe editor with run now, the
probes section of a service page, and the heartbeat push URL."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from health import selectors, services
from health.forms import ProbeForm
from health.models import Outcome, Probe, ProbeKind
from incidents.models import Service
from portal.errors import ValidationFailed
from portal.models import OrgRole, has_role

PAGE_SIZE = 50


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails  # set by django_htmx's middleware


def _require_manager(request: HttpRequest) -> None:
    if not has_role(request.user, OrgRole.MANAGER):
        raise PermissionDenied("Only managers configure probes.")


def _probe_or_404(pk: int) -> Probe:
    return get_object_or_404(selectors.probe_detail_qs(), pk=pk)


@login_required
@require_GET
def probe_list(request: HtmxHttpRequest) -> HttpResponse:
    selected = {key: request.GET.get(key, "")[:100] for key in ("q", "kind", "status", "service")}
    after, before = (int(v) if (v := request.GET.get(key, "")).isdigit() else None for key in ("after", "before"))
    page = selectors.probe_list_page(filters=selected, after=after, before=before, size=PAGE_SIZE)
    context = {
        "page": page, "selected": selected, "kinds": ProbeKind.choices, "statuses": Outcome.choices,
        "services": Service.objects.order_by("name").only("slug", "name"), "can_manage": has_role(request.user, OrgRole.MANAGER),
        "query": urlencode({k: v for k, v in selected.items() if v}),
    }  # fmt: skip
    template = "health/partials/probe_rows.html" if request.htmx and request.htmx.target == "probe-results" else "health/probe_list.html"
    return render(request, template, context)


def _initial(probe: Probe) -> dict[str, Any]:
    return {
        "service": probe.service.slug, "name": probe.name, "kind": probe.kind, "target": json.dumps(probe.target, indent=2),
        "conditions": "\n".join(probe.conditions), "interval_seconds": probe.interval_seconds,
        "timeout_seconds": probe.timeout_seconds, "failure_threshold": probe.failure_threshold,
        "success_threshold": probe.success_threshold, "locations": ", ".join(loc.name for loc in probe.locations.all()),
        "quorum": probe.quorum, "policy": probe.policy, "severity": probe.severity.name if probe.severity else None,
        "on_recovery": probe.on_recovery, "enabled": probe.enabled,
    }  # fmt: skip


@login_required
@require_http_methods(["GET", "POST"])
def probe_new(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = ProbeForm(request.POST or None, initial={"service": request.GET.get("service")})
    if request.method == "POST" and form.is_valid():
        try:
            probe = services.probe_create(by=request.user, **form.service_kwargs(editing=False))
        except ValidationFailed as exc:
            form.add_service_errors(exc.fields)
        else:
            token = getattr(probe, "new_heartbeat_token", None)
            if token:
                messages.success(request, f"Heartbeat URL (shown once): {request.build_absolute_uri(f'/health/heartbeat/{token}')}")
            return redirect("health:probe", pk=probe.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "health/probe_detail.html", {"form": form, "probe": None, "can_manage": True}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def probe_detail(request: HttpRequest, pk: int) -> HttpResponse:
    probe = _probe_or_404(pk)
    can_manage = has_role(request.user, OrgRole.MANAGER)
    form = ProbeForm(request.POST or None, initial=_initial(probe)) if can_manage else None
    status = 200
    if request.method == "POST":
        _require_manager(request)
        assert form is not None
        if form.is_valid():
            try:
                services.probe_update(probe=probe, by=request.user, **form.service_kwargs(editing=True))
            except ValidationFailed as exc:
                form.add_service_errors(exc.fields)
            else:
                messages.success(request, "Probe saved.")
                return redirect("health:probe", pk=probe.pk)
        status = 400
    context = {
        "probe": probe, "form": form, "can_manage": can_manage, "states": selectors.state_rows(probe),
        "results": selectors.latest_results(probe), "credentials_set": selectors.credentials_set(probe),
    }  # fmt: skip
    return render(request, "health/probe_detail.html", context, status=status)


@login_required
@require_POST
def probe_run(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    probe = _probe_or_404(pk)
    run = services.probe_run_now(probe=probe)
    return render(request, "health/partials/run_result.html", {"run": run, "probe": probe})


@login_required
@require_POST
def probe_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    probe = _probe_or_404(pk)
    services.probe_delete(probe=probe, by=request.user)
    messages.success(request, f"Probe “{probe.name}” deleted.")
    return redirect("health:probes")


@login_required
@require_GET
def service_probes(request: HttpRequest, slug: str) -> HttpResponse:
    """The probes section of a service page (loaded into it with htmx)."""
    service = get_object_or_404(Service, slug=slug)
    probes = selectors.service_probes(service.pk)
    rows = [{"probe": probe, "states": selectors.state_rows(probe), **selectors.history(probe)} for probe in probes]
    context = {"service": service, "rows": rows, "can_manage": has_role(request.user, OrgRole.MANAGER)}
    if probes:
        context.update(selectors.service_uptime(service.pk))
    return render(request, "health/partials/service_probes.html", context)


@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def heartbeat(request: HttpRequest, token: str, result: str = "") -> JsonResponse:
    """The push URL a cron job calls: /health/heartbeat/<token>, or .../fail with an
    optional short message (`?msg=` or the request body)."""
    if result not in ("", "ok", "fail"):
        return JsonResponse({"error": {"code": "not_found", "message": "Call .../ok or .../fail."}}, status=404)
    message = request.GET.get("msg", "") or (request.body[:500].decode("utf-8", errors="replace") if request.method == "POST" else "")
    beat = services.heartbeat_ping(token=token, ok=result != "fail", message=message)
    if beat is None:
        return JsonResponse({"error": {"code": "not_found", "message": "No heartbeat has this token."}}, status=404)
    return JsonResponse({"ok": True, "received_at": beat.last_ping_at.isoformat() if beat.last_ping_at else None})
