"""Helpers shared by the responder pages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse

from incidents import selectors
from incidents.models import (
    Incident,
    IncidentStatus,
    MaintenanceStatus,
    PostmortemStatus,
)
from portal.errors import DomainError, InvalidTransition
from portal.http import HtmxHttpRequest
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


def _page_context(request: HtmxHttpRequest, **extra: Any) -> dict[str, Any]:
    return {"can_act": has_role(request.user, RESPONDER), **extra}


def _partial(request: HtmxHttpRequest, parts: dict[str, str]) -> str | None:
    """The partial template for an htmx request that targets one region of the page
    (named by the target's id, or `?part=`), or None for the whole page."""
    if not request.htmx:
        return None
    return parts.get(request.htmx.target or "") or parts.get(request.GET.get("part", ""))


def _back(request: HtmxHttpRequest, name: str, *args: Any, status: int) -> HttpResponse:
    """After a refused change, back to the page, where the flashed message explains it.
    htmx requests get the refusal's status code and an HX-Redirect instead."""
    response = HttpResponseRedirect(reverse(name, args=args))
    if request.htmx:
        return HttpResponse(status=status, headers={"HX-Redirect": response.url})
    return response
