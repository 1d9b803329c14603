"""Service pages and maintenance windows."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents import forms as f
from incidents import selectors, services
from incidents.models import (
    Impact,
    IncidentStatus,
    MaintenanceStatus,
    MaintenanceWindow,
)
from incidents.services.maintenance import MAINTENANCE_TRANSITIONS
from incidents.views.common import (
    RESPONDER,
    _back,
    _describe,
    _form_errors,
    _page_context,
    _partial,
    _require,
)
from portal.errors import DomainError
from portal.http import HtmxHttpRequest

# --- services --------------------------------------------------------------------------


@login_required
@require_GET
def service_list(request: HtmxHttpRequest) -> HttpResponse:
    template = _partial(request, {"service-board": "incidents/partials/service_board.html"}) or "incidents/service_list.html"
    return render(request, template, _page_context(request, service_board=selectors.service_board()))


@login_required
@require_GET
def service_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    service = get_object_or_404(selectors.service_list_qs(), slug=slug)
    status = selectors.service_statuses([service.pk]).get(service.pk, Impact.OPERATIONAL)
    incidents = selectors.incident_list_qs().filter(impacts__service=service)
    context = _page_context(
        request,
        service=service,
        status=status,
        status_label=Impact(status).label,
        open_incidents=list(incidents.open()),
        recent_incidents=list(incidents.filter(status=IncidentStatus.RESOLVED)[:20]),
        dependents=list(service.dependents.all()),
        maintenance=list(service.maintenance_windows.exclude(status=MaintenanceStatus.COMPLETED).order_by("scheduled_start")),
    )
    return render(request, "incidents/service_detail.html", context)


# --- maintenance ---------------------------------------------------------------------------


def _maintenance_context(request: HtmxHttpRequest, **extra: Any) -> dict[str, Any]:
    windows = list(selectors.maintenance_qs().order_by("scheduled_start"))
    for window in windows:
        window.transitions = [  # type: ignore[attr-defined]
            (value, MaintenanceStatus(value).label) for value in MAINTENANCE_TRANSITIONS[window.status]
        ]
    active = [w for w in windows if w.status in (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)]
    upcoming = [w for w in windows if w.status == MaintenanceStatus.SCHEDULED]
    past = sorted((w for w in windows if w.status == MaintenanceStatus.COMPLETED), key=lambda w: w.scheduled_start, reverse=True)
    extra.setdefault("form", f.MaintenanceForm())
    return _page_context(request, active=active, upcoming=upcoming, past=past[:30], **extra)


@login_required
@require_http_methods(["GET", "POST"])
def maintenance(request: HtmxHttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "incidents/maintenance.html", _maintenance_context(request))
    _require(request, RESPONDER)
    form = f.MaintenanceForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            window = services.maintenance_schedule(
                title=data["title"],
                description=data["description"],
                scheduled_start=data["scheduled_start"],
                scheduled_end=data["scheduled_end"],
                services=data["services"],
                visibility=data["visibility"],
                by=request.user,
            )
        except DomainError as exc:
            form.add_error(None, _describe(exc))
        else:
            messages.success(request, f"Maintenance “{window.title}” scheduled.")
            return redirect("maintenance")
    return render(request, "incidents/maintenance.html", _maintenance_context(request, form=form), status=400)


@login_required
@require_POST
def maintenance_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    window = get_object_or_404(MaintenanceWindow, pk=pk)
    _require(request, RESPONDER)
    form = f.MaintenanceStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return _back(request, "maintenance", status=400)
    try:
        services.maintenance_change_status(window=window, status=form.cleaned_data["status"], by=request.user)
    except DomainError as exc:
        messages.error(request, _describe(exc))
        return _back(request, "maintenance", status=exc.status_code)
    messages.success(request, f"“{window.title}” is now {MaintenanceStatus(form.cleaned_data['status']).label.lower()}.")
    return redirect("maintenance")
