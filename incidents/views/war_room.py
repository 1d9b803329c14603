"""The war room of one incident and its composer actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from incidents import forms as f
from incidents import selectors, services, templating
from incidents.integrations import selectors as alert_selectors
from incidents.models import (
    Impact,
    Incident,
    IncidentRole,
    MessageTemplate,
    Postmortem,
    TimelineEvent,
)
from incidents.oncall import selectors as oncall_selectors
from incidents.selectors import duration_text as _duration_text
from incidents.selectors import with_timers as _with_timers
from incidents.views.common import (
    RESPONDER,
    TIMELINE_LIMIT,
    _describe,
    _form_errors,
    _incident_or_404,
    _page_context,
    _require,
)
from portal.errors import DomainError
from portal.http import HtmxHttpRequest
from portal.markdown import render_markdown
from portal.models import display_name

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


def _lasted_text(incident: Incident) -> str:
    """How long a resolved incident was open, to the second when under a minute
    (a false alarm resolved at once is not "0 minutes")."""
    assert incident.resolved_at is not None
    seconds = max(0, int((incident.resolved_at - incident.started_at).total_seconds()))
    return f"{seconds}s" if seconds < 60 else _duration_text(incident.resolved_at - incident.started_at)


def _header_context(request: HtmxHttpRequest, incident: Incident, now: Any) -> dict[str, Any]:
    """What the header shows: facts, timers, roles, impacts (no timeline, no forms
    but the status choices, which follow the status)."""
    _with_timers([incident], now)
    return {
        "incident": incident,
        "now": now,
        "target": _duration_text(incident.severity.response_target),
        "lasted": _lasted_text(incident) if incident.resolved_at else "",
        "roles": _roles(incident),
        "impacts": list(incident.impacts.all()),
        "postmortem": Postmortem.objects.filter(incident=incident).first(),
        "status_form": f.StatusForm(current=incident.status),
    }


def _war_room_context(request: HtmxHttpRequest, incident: Incident, **extra: Any) -> dict[str, Any]:
    return _page_context(
        request,
        **_header_context(request, incident, timezone.now()),
        timeline=_timeline(incident),
        note_form=f.NoteForm(),
        severity_form=f.SeverityForm(initial={"severity": incident.severity_id}),
        role_form=f.RoleForm(),
        impact_form=f.ImpactForm(),
        visibility_form=f.VisibilityForm(initial={"visibility": incident.visibility}),
        update_form=f.PublicUpdateForm(),
        incident_alerts=alert_selectors.incident_alerts(incident.pk),
        paging=oncall_selectors.paging_progress(incident),
        **extra,
    )


def _header_part(request: HtmxHttpRequest, incident: Incident) -> dict[str, Any]:
    return _page_context(request, **_header_context(request, incident, timezone.now()))


def _timeline_part(request: HtmxHttpRequest, incident: Incident) -> dict[str, Any]:
    return _page_context(request, incident=incident, timeline=_timeline(incident))


def _live_part(request: HtmxHttpRequest, incident: Incident) -> dict[str, Any]:
    # One request per change refreshes both live regions: the header in place,
    # the timeline and the status choices out of band.
    return {**_header_part(request, incident), "timeline": _timeline(incident), "oob": True}


# Each htmx region of the war room builds only its own context.
WAR_ROOM_PARTS: dict[str, tuple[str, Callable[[HtmxHttpRequest, Incident], dict[str, Any]]]] = {
    "incident-header": ("incidents/partials/incident_header.html", _header_part),
    "timeline": ("incidents/partials/timeline.html", _timeline_part),
    "live": ("incidents/partials/war_room_live.html", _live_part),
}


@login_required
@require_GET
def incident_detail(request: HtmxHttpRequest, ref: str) -> HttpResponse:
    incident = _incident_or_404(ref)
    if incident.reference != ref:
        return redirect("incident-detail", incident.reference)
    if request.htmx:
        part = WAR_ROOM_PARTS.get(request.GET.get("part", "")) or WAR_ROOM_PARTS.get(request.htmx.target or "")
        if part is not None:
            template, build = part
            return render(request, template, build(request, incident))
    return render(request, "incidents/incident_detail.html", _war_room_context(request, incident))


Action = Callable[[Incident, dict[str, Any], Any], str]


def _act(request: HtmxHttpRequest, ref: str, form_class: type, action: Action) -> HttpResponse:
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
def incident_note(request: HtmxHttpRequest, ref: str) -> HttpResponse:
    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        services.incident_add_note(incident=incident, body=data["body"], by=user, pinned=data["pinned"])
        return "Note added."

    return _act(request, ref, f.NoteForm, action)


@login_required
@require_POST
def incident_status(request: HtmxHttpRequest, ref: str) -> HttpResponse:
    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        done = services.incident_change_status(incident=incident, status=data["status"], by=user, reason=data["reason"])
        return f"Status is now {done.get_status_display()}."

    return _act(request, ref, f.StatusForm, action)


@login_required
@require_POST
def incident_severity(request: HtmxHttpRequest, ref: str) -> HttpResponse:
    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        services.incident_change_severity(incident=incident, severity=data["severity"], by=user, reason=data["reason"])
        return f"Severity is now {data['severity'].name}."

    return _act(request, ref, f.SeverityForm, action)


@login_required
@require_POST
def incident_role(request: HtmxHttpRequest, ref: str) -> HttpResponse:
    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        services.incident_assign_role(incident=incident, role=data["role"], user=data["user"], by=user)
        label = IncidentRole(data["role"]).label
        return f"{display_name(data['user'])} is now {label}." if data["user"] else f"{label} released."

    return _act(request, ref, f.RoleForm, action)


@login_required
@require_POST
def incident_impact(request: HtmxHttpRequest, ref: str) -> HttpResponse:
    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        impact = data["impact"] or None
        services.incident_set_impact(incident=incident, service=data["service"], impact=impact, by=user)
        return f"{data['service'].name}: {Impact(impact).label if impact else 'removed from the incident'}."

    return _act(request, ref, f.ImpactForm, action)


@login_required
@require_POST
def incident_visibility(request: HtmxHttpRequest, ref: str) -> HttpResponse:
    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        services.incident_change_visibility(incident=incident, visibility=data["visibility"], by=user)
        return f"The incident is now {data['visibility']}."

    return _act(request, ref, f.VisibilityForm, action)


@login_required
@require_POST
def incident_public_update(request: HtmxHttpRequest, ref: str) -> HttpResponse:
    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        services.incident_post_update(incident=incident, body=data["body"], status=data["status"] or None, by=user)
        return "Public update posted."

    return _act(request, ref, f.PublicUpdateForm, action)


@login_required
@require_POST
def incident_pin(request: HtmxHttpRequest, ref: str, event_id: int) -> HttpResponse:
    incident = _incident_or_404(ref)
    event = get_object_or_404(TimelineEvent, pk=event_id, incident=incident)

    def action(incident: Incident, data: dict[str, Any], user: Any) -> str:
        services.timeline_set_pinned(event=event, pinned=data["pinned"], by=user)
        return "Pinned." if data["pinned"] else "Unpinned."

    return _act(request, ref, f.PinForm, action)


def _fill_template(template: MessageTemplate, incident: Incident) -> str:
    # A draft for the composer: values only the author knows ({next_update}, {eta})
    # stay as placeholders to be written over.
    values = templating.incident_values(incident, status=template.status or incident.status, tz=templating.zone(None))
    return templating.fill(template.body, values, kind=template.kind, keep_missing=True)


@login_required
@require_GET
def incident_update_template(request: HtmxHttpRequest, ref: str) -> HttpResponse:
    """The public-update fields filled from a message template (htmx swaps them in)."""
    incident = _incident_or_404(ref)
    _require(request, RESPONDER)
    template_id = request.GET.get("template", "")
    initial: dict[str, Any] = {}
    if template_id.isascii() and template_id.isdigit():
        template = f.incident_templates().filter(pk=int(template_id)).first()
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
def incident_update_preview(request: HtmxHttpRequest, ref: str) -> HttpResponse:
    _incident_or_404(ref)
    _require(request, RESPONDER)
    form = f.PreviewForm(request.POST)
    html = render_markdown(form.cleaned_data["body"]) if form.is_valid() else ""
    return render(request, "incidents/partials/preview.html", {"preview_html": html, "form": form})
