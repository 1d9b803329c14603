"""Responder pages (login required): dashboard, war room, lists, maintenance, postmortems.

Views are thin: authorize, validate with a form, call an `incidents.services`
function, render. A `DomainError` from a service becomes a visible message with
the service's status code. htmx requests get the named partial of the page's
template; plain requests get the whole page, so every link and form also works
without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents import forms as f
from incidents import selectors, services
from incidents.api.filters import IncidentFilter
from incidents.integrations import selectors as alert_selectors
from incidents.models import (
    ActionItem,
    Impact,
    Incident,
    IncidentRole,
    IncidentStatus,
    MaintenanceStatus,
    MaintenanceWindow,
    MessageTemplate,
    Postmortem,
    PostmortemStatus,
    Service,
    ServiceGroup,
    Severity,
    TimelineEvent,
)
from incidents.services.maintenance import MAINTENANCE_TRANSITIONS
from portal.errors import DomainError, InvalidTransition
from portal.markdown import render_markdown
from portal.models import OrgRole, has_role

RESPONDER = OrgRole.RESPONDER
TIMELINE_LIMIT = 300  # the war room shows the newest events; the API pages through the rest


# --- helpers -----------------------------------------------------------------------


def _require(request: HttpRequest, role: str) -> None:
    if not has_role(request.user, role):
        raise PermissionDenied(f"This needs the {role} role.")


def _incident_or_404(reference: str) -> Incident:
    pk = Incident.id_from_reference(reference)
    if pk is None:
        raise Http404("No such incident.")
    return get_object_or_404(selectors.incident_detail_qs(), pk=pk)


def _describe(exc: DomainError) -> str:
    """The message a person reads. An invalid transition names the allowed ones,
    so the commander sees at once what to do instead."""
    text = exc.message
    if isinstance(exc, InvalidTransition):
        allowed = exc.extra.get("allowed") or []
        labels = [_status_label(value) for value in allowed]
        text += " Allowed from here: " + (", ".join(labels) if labels else "none") + "."
    for field, errors in exc.fields.items():
        if field not in text:
            text += f" ({field}: {' '.join(str(e) for e in errors)})"
    return text


def _status_label(value: str) -> str:
    for choices in (IncidentStatus, MaintenanceStatus, PostmortemStatus):
        if value in choices.values:
            return str(choices(value).label)
    return value


def _form_errors(form: Any) -> str:
    parts = []
    for field, errors in form.errors.items():
        label = form.fields[field].label or field.replace("_", " ").capitalize() if field in form.fields else ""
        parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    return "Please correct the form. " + " ".join(parts)


def _page_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {"can_act": has_role(request.user, RESPONDER), **extra}


def _partial(request: HttpRequest, parts: dict[str, str]) -> str | None:
    """The partial template for an htmx request that targets one region of the page
    (named by the target's id, or `?part=`), or None for the whole page."""
    if not request.htmx:
        return None
    return parts.get(request.htmx.target or "") or parts.get(request.GET.get("part", ""))


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


# --- war room ---------------------------------------------------------------------------


def _timeline(incident: Incident) -> dict[str, list[TimelineEvent]]:
    qs = selectors.timeline_qs(incident.pk)
    pinned = list(qs.filter(pinned=True))
    rest = list(qs.filter(pinned=False)[:TIMELINE_LIMIT])
    for event in [*pinned, *rest]:
        # Notes and updates are Markdown written by people; sanitised on the way out.
        event.body_html = render_markdown(event.body) if event.body else ""  # type: ignore[attr-defined]
    return {"pinned": pinned, "events": rest}


def _roles(incident: Incident) -> list[dict[str, Any]]:
    holders = {a.role: a.user for a in getattr(incident, "current_roles", [])}
    return [{"role": value, "label": label, "user": holders.get(value)} for value, label in IncidentRole.choices]


WAR_ROOM_PARTS = {
    "incident-header": "incidents/partials/incident_header.html",
    "timeline": "incidents/partials/timeline.html",
}


def _war_room_context(request: HttpRequest, incident: Incident, **extra: Any) -> dict[str, Any]:
    now = timezone.now()
    _with_timers([incident], now)
    return _page_context(
        request,
        incident=incident,
        now=now,
        target=_duration_text(incident.severity.response_target),
        roles=_roles(incident),
        impacts=list(incident.impacts.all()),
        timeline=_timeline(incident),
        transitions=services.ALLOWED_TRANSITIONS[incident.status],
        note_form=f.NoteForm(),
        status_form=f.StatusForm(),
        severity_form=f.SeverityForm(initial={"severity": incident.severity_id}),
        role_form=f.RoleForm(),
        impact_form=f.ImpactForm(),
        visibility_form=f.VisibilityForm(initial={"visibility": incident.visibility}),
        update_form=f.PublicUpdateForm(),
        postmortem=Postmortem.objects.filter(incident=incident).first(),
        incident_alerts=alert_selectors.incident_alerts(incident.pk),
        **extra,
    )


@login_required
@require_GET
def incident_detail(request: HttpRequest, ref: str) -> HttpResponse:
    incident = _incident_or_404(ref)
    if incident.reference != ref:
        return redirect("incident-detail", incident.reference)
    template = _partial(request, WAR_ROOM_PARTS) or "incidents/incident_detail.html"
    return render(request, template, _war_room_context(request, incident))


Action = Callable[[Incident, dict[str, Any], Any], str]


def _act(request: HttpRequest, ref: str, form_class: type, action: Action) -> HttpResponse:
    """Run one composer action: validate, call the service, report.

    htmx gets the feedback fragment (and `HX-Trigger: incident-changed`, so the
    header and timeline refresh at once even before the websocket event arrives);
    a plain form post gets a redirect on success and the whole page on error."""
    incident = _incident_or_404(ref)
    _require(request, RESPONDER)
    form = form_class(request.POST)
    error, status, done = "", 200, ""
    if not form.is_valid():
        error, status = _form_errors(form), 400
    else:
        try:
            done = action(incident, form.cleaned_data, request.user)
        except DomainError as exc:
            error, status = _describe(exc), exc.status_code
    if request.htmx:
        response = render(request, "incidents/partials/feedback.html", {"error": error, "done": done}, status=status)
        if not error:
            response["HX-Trigger"] = "incident-changed"
        return response
    if not error:
        messages.success(request, done)
        return redirect("incident-detail", incident.reference)
    incident = _incident_or_404(ref)  # re-read: the page shows the current state beside the error
    return render(request, "incidents/incident_detail.html", _war_room_context(request, incident, error=error), status=status)


@login_required
@require_POST
def incident_note(request: HttpRequest, ref: str) -> HttpResponse:
    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        services.incident_add_note(incident=incident, body=data["body"], by=user, pinned=data["pinned"])
        return "Note added."

    return _act(request, ref, f.NoteForm, action)


@login_required
@require_POST
def incident_status(request: HttpRequest, ref: str) -> HttpResponse:
    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        done = services.incident_change_status(incident=incident, status=data["status"], by=user, reason=data["reason"])
        return f"Status is now {done.get_status_display()}."

    return _act(request, ref, f.StatusForm, action)


@login_required
@require_POST
def incident_severity(request: HttpRequest, ref: str) -> HttpResponse:
    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        services.incident_change_severity(incident=incident, severity=data["severity"], by=user, reason=data["reason"])
        return f"Severity is now {data['severity'].name}."

    return _act(request, ref, f.SeverityForm, action)


@login_required
@require_POST
def incident_role(request: HttpRequest, ref: str) -> HttpResponse:
    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        services.incident_assign_role(incident=incident, role=data["role"], user=data["user"], by=user)
        label = IncidentRole(data["role"]).label
        return f"{data['user'].get_full_name() or data['user'].get_username()} is now {label}." if data["user"] else f"{label} released."

    return _act(request, ref, f.RoleForm, action)


@login_required
@require_POST
def incident_impact(request: HttpRequest, ref: str) -> HttpResponse:
    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        impact = data["impact"] or None
        services.incident_set_impact(incident=incident, service=data["service"], impact=impact, by=user)
        return f"{data['service'].name}: {Impact(impact).label if impact else 'removed from the incident'}."

    return _act(request, ref, f.ImpactForm, action)


@login_required
@require_POST
def incident_visibility(request: HttpRequest, ref: str) -> HttpResponse:
    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        services.incident_change_visibility(incident=incident, visibility=data["visibility"], by=user)
        return f"The incident is now {data['visibility']}."

    return _act(request, ref, f.VisibilityForm, action)


@login_required
@require_POST
def incident_public_update(request: HttpRequest, ref: str) -> HttpResponse:
    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        services.incident_post_update(incident=incident, body=data["body"], status=data["status"] or None, by=user)
        return "Public update posted."

    return _act(request, ref, f.PublicUpdateForm, action)


@login_required
@require_POST
def incident_pin(request: HttpRequest, ref: str, event_id: int) -> HttpResponse:
    incident = _incident_or_404(ref)
    event = get_object_or_404(TimelineEvent, pk=event_id, incident=incident)

    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        services.timeline_set_pinned(event=event, pinned=data["pinned"], by=user)
        return "Pinned." if data["pinned"] else "Unpinned."

    return _act(request, ref, f.PinForm, action)


def _fill_template(template: MessageTemplate, incident: Incident) -> str:
    # Only the three documented placeholders are replaced: a template may hold
    # other braces (JSON, code) that str.format would choke on.
    names = ", ".join(i.service.name for i in incident.impacts.all() if i.service.is_public) or "our services"
    status = template.status or incident.status
    return (
        template.body.replace("{title}", incident.title)
        .replace("{services}", names)
        .replace("{status}", _status_label(status).lower())
    )


@login_required
@require_GET
def incident_update_template(request: HttpRequest, ref: str) -> HttpResponse:
    """The public-update fields filled from a message template (htmx swaps them in)."""
    incident = _incident_or_404(ref)
    _require(request, RESPONDER)
    template_id = request.GET.get("template", "")
    initial: dict[str, Any] = {}
    if template_id.isdigit():
        template = MessageTemplate.objects.filter(pk=int(template_id)).first()
        if template is not None:
            initial = {"template": template.pk, "body": _fill_template(template, incident), "status": template.status}
    form = f.PublicUpdateForm(initial=initial)
    body = initial.get("body", "")
    return render(
        request,
        "incidents/partials/update_fields.html",
        {"incident": incident, "update_form": form, "preview_html": render_markdown(body) if body else ""},
    )


@login_required
@require_POST
def incident_update_preview(request: HttpRequest, ref: str) -> HttpResponse:
    _incident_or_404(ref)
    _require(request, RESPONDER)
    form = f.PreviewForm(request.POST)
    html = render_markdown(form.cleaned_data["body"]) if form.is_valid() else ""
    return render(request, "incidents/partials/preview.html", {"preview_html": html, "form": form})


# --- services --------------------------------------------------------------------------


@login_required
@require_GET
def service_list(request: HttpRequest) -> HttpResponse:
    template = _partial(request, {"service-board": "incidents/partials/service_board.html"}) or "incidents/service_list.html"
    return render(request, template, _page_context(request, service_board=_service_board()))


@login_required
@require_GET
def service_detail(request: HttpRequest, slug: str) -> HttpResponse:
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


def _maintenance_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
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
def maintenance(request: HttpRequest) -> HttpResponse:
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
def maintenance_status(request: HttpRequest, pk: int) -> HttpResponse:
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


def _back(request: HttpRequest, name: str, *args: Any, status: int) -> HttpResponse:
    """After a refused change, back to the page, where the flashed message explains it.
    htmx requests get the refusal's status code and an HX-Redirect instead."""
    response = HttpResponseRedirect(reverse(name, args=args))
    if request.htmx:
        return HttpResponse(status=status, headers={"HX-Redirect": response.url})
    return response


# --- postmortems ---------------------------------------------------------------------------


@login_required
@require_GET
def postmortem_list(request: HttpRequest) -> HttpResponse:
    postmortems = selectors.postmortem_qs().order_by("-created_at")
    page = Paginator(postmortems, 50).get_page(request.GET.get("page"))
    return render(request, "incidents/postmortem_list.html", _page_context(request, page=page))


def _postmortem_or_404(incident: Incident) -> Postmortem:
    return get_object_or_404(selectors.postmortem_qs(), incident=incident)


def _postmortem_context(request: HttpRequest, incident: Incident, postmortem: Postmortem, **extra: Any) -> dict[str, Any]:
    sections = list(postmortem.sections.all())
    extra.setdefault("item_form", f.ActionItemForm())
    extra.setdefault("form", f.PostmortemForm(
        sections=sections,
        initial={"users_affected": postmortem.users_affected, "revenue_impact": postmortem.revenue_impact},
    ))
    from incidents.services.postmortems import POSTMORTEM_TRANSITIONS

    return _page_context(
        request,
        incident=incident,
        postmortem=postmortem,
        transitions=[(value, PostmortemStatus(value).label) for value in POSTMORTEM_TRANSITIONS[postmortem.status]],
        missing=[s for s in sections if s.required and s.is_empty],
        action_items=list(postmortem.action_items.all()),
        item_statuses=f.ActionItemStatusForm.base_fields["status"].choices,
        **extra,
    )


@login_required
@require_http_methods(["GET", "POST"])
def postmortem_edit(request: HttpRequest, ref: str) -> HttpResponse:
    incident = _incident_or_404(ref)
    postmortem = Postmortem.objects.filter(incident=incident).first()
    if postmortem is None:
        return render(request, "incidents/postmortem_start.html", _page_context(request, incident=incident))
    postmortem = _postmortem_or_404(incident)
    if request.method == "GET":
        return render(request, "incidents/postmortem_edit.html", _postmortem_context(request, incident, postmortem))
    _require(request, RESPONDER)
    form = f.PostmortemForm(request.POST, sections=list(postmortem.sections.all()))
    if form.is_valid():
        try:
            services.postmortem_update(
                postmortem=postmortem,
                by=request.user,
                sections=form.section_bodies(),
                users_affected=form.cleaned_data["users_affected"],
                revenue_impact=form.cleaned_data["revenue_impact"],
            )
        except DomainError as exc:
            form.add_error(None, _describe(exc))
        else:
            messages.success(request, "Postmortem saved.")
            return redirect("postmortem-edit", incident.reference)
    context = _postmortem_context(request, incident, postmortem, form=form)
    return render(request, "incidents/postmortem_edit.html", context, status=400)


@login_required
@require_POST
def postmortem_start(request: HttpRequest, ref: str) -> HttpResponse:
    incident = _incident_or_404(ref)
    _require(request, RESPONDER)
    try:
        services.postmortem_start(incident=incident, by=request.user)
    except DomainError as exc:
        messages.error(request, _describe(exc))
        return _back(request, "postmortem-edit", incident.reference, status=exc.status_code)
    messages.success(request, "Postmortem started.")
    return redirect("postmortem-edit", incident.reference)


@login_required
@require_POST
def postmortem_status(request: HttpRequest, ref: str) -> HttpResponse:
    incident = _incident_or_404(ref)
    postmortem = _postmortem_or_404(incident)
    _require(request, RESPONDER)
    form = f.PostmortemStatusForm(request.POST)
    status = 200
    if not form.is_valid():
        error, status = _form_errors(form), 400
    else:
        try:
            services.postmortem_change_status(postmortem=postmortem, status=form.cleaned_data["status"], by=request.user)
        except DomainError as exc:
            error, status = _describe(exc), exc.status_code
        else:
            messages.success(request, f"Postmortem is now {PostmortemStatus(form.cleaned_data['status']).label.lower()}.")
            return redirect("postmortem-edit", incident.reference)
    postmortem = _postmortem_or_404(incident)
    context = _postmortem_context(request, incident, postmortem, error=error)
    return render(request, "incidents/postmortem_edit.html", context, status=status)


@login_required
@require_POST
def action_item_create(request: HttpRequest, ref: str) -> HttpResponse:
    incident = _incident_or_404(ref)
    postmortem = _postmortem_or_404(incident)
    _require(request, RESPONDER)
    form = f.ActionItemForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.action_item_create(
                postmortem=postmortem,
                title=data["title"],
                owner=data["owner"],
                due_date=data["due_date"],
                priority=data["priority"],
                external_url=data["external_url"],
                by=request.user,
            )
        except DomainError as exc:
            form.add_error(None, _describe(exc))
        else:
            messages.success(request, "Action item added.")
            return redirect("postmortem-edit", incident.reference)
    context = _postmortem_context(request, incident, postmortem, item_form=form)
    return render(request, "incidents/postmortem_edit.html", context, status=400)


@login_required
@require_POST
def action_item_status(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(ActionItem.objects.select_related("postmortem__incident"), pk=pk)
    _require(request, RESPONDER)
    ref = item.postmortem.incident.reference
    form = f.ActionItemStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return _back(request, "postmortem-edit", ref, status=400)
    try:
        services.action_item_update(item=item, status=form.cleaned_data["status"], by=request.user)
    except DomainError as exc:
        messages.error(request, _describe(exc))
        return _back(request, "postmortem-edit", ref, status=exc.status_code)
    return redirect("postmortem-edit", ref)


@login_required
@require_GET
def postmortem_view(request: HttpRequest, ref: str) -> HttpResponse:
    """The postmortem as a document: published ones for everyone signed in; drafts
    only for responders, as a preview of what publishing will show."""
    incident = _incident_or_404(ref)
    postmortem = _postmortem_or_404(incident)
    if postmortem.status != PostmortemStatus.PUBLISHED and not has_role(request.user, RESPONDER):
        raise Http404("This postmortem is not published yet.")
    sections = list(postmortem.sections.all())
    for section in sections:
        section.body_html = render_markdown(section.body)  # type: ignore[attr-defined]
    context = _page_context(
        request,
        incident=incident,
        postmortem=postmortem,
        sections=sections,
        action_items=list(postmortem.action_items.all()),
    )
    return render(request, "incidents/postmortem_view.html", context)
