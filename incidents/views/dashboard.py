"""The dashboard, declaring an incident and the incident list."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from incidents import forms as f
from incidents import selectors, services
from incidents.api.filters import IncidentFilter
from incidents.integrations import selectors as alert_selectors
from incidents.models import (
    Impact,
    Incident,
    IncidentStatus,
    Service,
    ServiceGroup,
    Severity,
)
from incidents.oncall import selectors as oncall_selectors
from incidents.views.common import (
    RESPONDER,
    _describe,
    _page_context,
    _partial,
    _require,
)
from portal.errors import DomainError

# --- dashboard ---------------------------------------------------------------------


def _duration_text(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return " ".join(p for p in parts if p) or "0m"


def _with_timers(incidents: list[Incident], now: datetime) -> list[Incident]:
    """Mark each incident's response timer: the target is met by the first human
    action (acknowledgement), as in the API's `response_target_breached`."""
    for incident in incidents:
        reached = incident.acknowledged_at or now
        incident.response_breached = reached > incident.response_due_at  # type: ignore[attr-defined]
        if incident.acknowledged_at:
            incident.response_text = _duration_text(incident.acknowledged_at - incident.started_at)  # type: ignore[attr-defined]
    return incidents


def _open_by_severity(now: datetime) -> list[dict[str, Any]]:
    incidents = _with_timers(list(selectors.incident_list_qs().open().order_by("severity__rank", "started_at")), now)
    groups = []
    for severity in Severity.objects.all():
        rows = [i for i in incidents if i.severity_id == severity.pk]
        groups.append({"severity": severity, "target": _duration_text(severity.response_target), "incidents": rows})
    return groups


def _service_board() -> list[dict[str, Any]]:
    statuses = selectors.service_statuses()
    groups: dict[int | None, dict[str, Any]] = {}
    for group in ServiceGroup.objects.all():
        groups[group.pk] = {"group": group, "services": []}
    ungrouped: dict[str, Any] = {"group": None, "services": []}
    for service in Service.objects.select_related("group"):
        status = statuses.get(service.pk, Impact.OPERATIONAL)
        row = {"service": service, "status": status, "label": Impact(status).label}
        groups.get(service.group_id, ungrouped)["services"].append(row)
    return [g for g in [*groups.values(), ungrouped] if g["services"]]


DASHBOARD_PARTS = {
    "open-incidents": "incidents/partials/open_incidents.html",
    "service-board": "incidents/partials/service_board.html",
}


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    groups = _open_by_severity(now)
    context = _page_context(
        request,
        severity_groups=groups,
        open_count=sum(len(g["incidents"]) for g in groups),
        service_board=_service_board(),
        recent_alerts=alert_selectors.recent_alerts(),
        on_call_board=oncall_selectors.on_call_board(),
        now=now,
    )
    template = _partial(request, DASHBOARD_PARTS) or "incidents/dashboard.html"
    return render(request, template, context)


# --- declaring and listing ------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def incident_declare(request: HttpRequest) -> HttpResponse:
    _require(request, RESPONDER)
    if request.method == "POST":
        form = f.DeclareForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                incident = services.incident_declare(
                    title=data["title"],
                    severity=data["severity"],
                    by=request.user,
                    summary=data["summary"],
                    visibility=data["visibility"],
                    impacts={service: data["impact"] for service in data["services"]},
                    commander=data["commander"],
                )
            except DomainError as exc:
                form.add_error(None, _describe(exc))
            else:
                messages.success(request, f"{incident.reference} declared.")
                url = reverse("incident-detail", args=[incident.reference])
                if request.htmx:
                    return HttpResponse(status=204, headers={"HX-Redirect": url})
                return redirect(url)
        status = 400
    else:
        form = f.DeclareForm(initial={"commander": request.user.pk})
        status = 200
    return render(request, "incidents/declare.html", _page_context(request, form=form), status=status)


@login_required
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    # Empty fields of the filter form mean "any": drop them before validating.
    data = request.GET.copy()
    for key in list(data):
        values = [v for v in data.getlist(key) if v.strip()]
        if values:
            data.setlist(key, values)
        else:
            del data[key]
    filters = IncidentFilter(data, queryset=selectors.incident_list_qs())
    qs = filters.qs if filters.is_valid() else selectors.incident_list_qs().none()
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = _page_context(
        request,
        page=page,
        filters=filters,
        filter_errors=filters.errors,
        query=query.urlencode(),
        statuses=IncidentStatus.choices,
        severities=Severity.objects.all(),
        services=Service.objects.all(),
        selected={
            "status": request.GET.getlist("status"),
            "severity": request.GET.get("severity", ""),
            "service": request.GET.get("service", ""),
            "open": request.GET.get("open", ""),
            "q": request.GET.get("q", ""),
        },
    )
    template = _partial(request, {"incident-results": "incidents/partials/incident_results.html"}) or "incidents/incident_list.html"
    return render(request, template, context, status=200 if filters.is_valid() else 400)
