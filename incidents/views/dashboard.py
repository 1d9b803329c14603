"""The dashboard, declaring an incident and the incident list."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from incidents import forms as f
from incidents import selectors, services
from incidents.api.filters import IncidentFilter
from incidents.integrations import selectors as alert_selectors
from incidents.models import (
    IncidentStatus,
    Service,
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
from portal.http import HtmxHttpRequest

# --- dashboard ---------------------------------------------------------------------


DASHBOARD_PARTS = {
    "open-incidents": "incidents/partials/open_incidents.html",
    "service-board": "incidents/partials/service_board.html",
}


@login_required
@require_GET
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    now = timezone.now()
    groups = selectors.open_by_severity(now)
    context = _page_context(
        request,
        severity_groups=groups,
        open_count=sum(len(g["incidents"]) for g in groups),
        service_board=selectors.service_board(),
        recent_alerts=alert_selectors.recent_alerts(),
        on_call_board=oncall_selectors.on_call_board(),
        now=now,
    )
    template = _partial(request, DASHBOARD_PARTS) or "incidents/dashboard.html"
    return render(request, template, context)


# --- declaring and listing ------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def incident_declare(request: HtmxHttpRequest) -> HttpResponse:
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
def incident_list(request: HtmxHttpRequest) -> HttpResponse:
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
