"""The postmortem editor, its action items and its published view."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.forms import ChoiceField
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents import forms as f
from incidents import selectors, services
from incidents.models import (
    ActionItem,
    Incident,
    Postmortem,
    PostmortemStatus,
)
from incidents.views.common import (
    RESPONDER,
    _back,
    _describe,
    _form_errors,
    _incident_or_404,
    _page_context,
    _require,
)
from portal.errors import DomainError
from portal.http import HtmxHttpRequest
from portal.markdown import render_markdown
from portal.models import has_role

# --- postmortems ---------------------------------------------------------------------------


@login_required
@require_GET
def postmortem_list(request: HtmxHttpRequest) -> HttpResponse:
    postmortems = selectors.postmortem_qs().order_by("-created_at")
    page = Paginator(postmortems, 50).get_page(request.GET.get("page"))
    return render(request, "incidents/postmortem_list.html", _page_context(request, page=page))


def _postmortem_or_404(incident: Incident) -> Postmortem:
    return get_object_or_404(selectors.postmortem_qs(), incident=incident)


def _postmortem_context(request: HtmxHttpRequest, incident: Incident, postmortem: Postmortem, **extra: Any) -> dict[str, Any]:
    sections = list(postmortem.sections.all())
    extra.setdefault("item_form", f.ActionItemForm())
    extra.setdefault("form", f.PostmortemForm(sections=sections, initial=f.PostmortemForm.initial_for(postmortem)))
    from incidents.services.postmortems import POSTMORTEM_TRANSITIONS

    return _page_context(
        request,
        incident=incident,
        postmortem=postmortem,
        transitions=[(value, PostmortemStatus(value).label) for value in POSTMORTEM_TRANSITIONS[postmortem.status]],
        missing=[s for s in sections if s.required and s.is_empty],
        action_items=list(postmortem.action_items.all()),
        item_statuses=cast(ChoiceField, f.ActionItemStatusForm.base_fields["status"]).choices,
        **extra,
    )


@login_required
@require_http_methods(["GET", "POST"])
def postmortem_edit(request: HtmxHttpRequest, ref: str) -> HttpResponse:
    incident = _incident_or_404(ref)
    postmortem = Postmortem.objects.filter(incident=incident).first()
    if postmortem is None:
        start_form = f.PostmortemStartForm(initial={"template": selectors.postmortem_template_qs().filter(is_default=True).first()})
        return render(request, "incidents/postmortem_start.html", _page_context(request, incident=incident, start_form=start_form))
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
                **form.impact(),
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
def postmortem_start(request: HtmxHttpRequest, ref: str) -> HttpResponse:
    incident = _incident_or_404(ref)
    _require(request, RESPONDER)
    form = f.PostmortemStartForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return _back(request, "postmortem-edit", incident.reference, status=400)
    try:
        services.postmortem_start(incident=incident, by=request.user, template=form.cleaned_data["template"])
    except DomainError as exc:
        messages.error(request, _describe(exc))
        return _back(request, "postmortem-edit", incident.reference, status=exc.status_code)
    messages.success(request, "Postmortem started.")
    return redirect("postmortem-edit", incident.reference)


def _save_sections(request: HtmxHttpRequest, postmortem: Postmortem) -> f.PostmortemForm | None:
    """Save the editor's text sent along with a status change. Returns the bound
    form when it is invalid (shown back with everything typed), else None."""
    if not any(key.startswith("section-") for key in request.POST):
        return None
    form = f.PostmortemForm(request.POST, sections=list(postmortem.sections.all()))
    if not form.is_valid():
        return form
    services.postmortem_update(
        postmortem=postmortem,
        by=request.user,
        sections=form.section_bodies(),
        **form.impact(),
    )
    return None


@login_required
@require_POST
def postmortem_status(request: HtmxHttpRequest, ref: str) -> HttpResponse:
    """Change a postmortem's status. The editor's buttons post the text with it:
    what was typed is saved first, so publishing never loses unsaved work."""
    incident = _incident_or_404(ref)
    postmortem = _postmortem_or_404(incident)
    _require(request, RESPONDER)
    form = f.PostmortemStatusForm(request.POST)
    status, extra = 200, {}
    if not form.is_valid():
        error, status = _form_errors(form), 400
    else:
        try:
            invalid = _save_sections(request, postmortem)
            if invalid is not None:
                error, status, extra = "The postmortem was not saved: please correct the form.", 400, {"form": invalid}
            else:
                postmortem = _postmortem_or_404(incident)
                services.postmortem_change_status(postmortem=postmortem, status=form.cleaned_data["status"], by=request.user)
        except DomainError as exc:
            error, status = _describe(exc), exc.status_code
        else:
            if status == 200:
                messages.success(request, f"Postmortem is now {PostmortemStatus(form.cleaned_data['status']).label.lower()}.")
                return redirect("postmortem-edit", incident.reference)
    postmortem = _postmortem_or_404(incident)
    context = _postmortem_context(request, incident, postmortem, error=error, **extra)
    return render(request, "incidents/postmortem_edit.html", context, status=status)


@login_required
@require_POST
def action_item_create(request: HtmxHttpRequest, ref: str) -> HttpResponse:
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
def action_item_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
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
def postmortem_view(request: HtmxHttpRequest, ref: str) -> HttpResponse:
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
