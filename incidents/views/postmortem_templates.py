"""Managers' pages for postmortem templates: list, create, edit (sections as
ordered rows; htmx adds a row in place), delete."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents import forms as f
from incidents import selectors
from incidents.models import PostmortemTemplate
from incidents.services import postmortem_templates as template_services
from incidents.views.common import _describe, _require
from portal.errors import DomainError
from portal.models import OrgRole

MANAGER = OrgRole.MANAGER
PREFIX = "sections"
_SECTION_FIELD = re.compile(r"^sections\.(\d+)\.(\w+)$")


@login_required
@require_GET
def postmortem_template_list(request: HttpRequest) -> HttpResponse:
    _require(request, MANAGER)
    return render(request, "incidents/postmortem_templates.html", {"templates": list(selectors.postmortem_template_qs())})


def _initial_sections(template: PostmortemTemplate | None) -> list[dict[str, Any]]:
    if template is None:
        return []
    return [
        {"title": s.get("title", ""), "key": s.get("key", ""), "required": bool(s.get("required")), "prompt": s.get("prompt", ""),
         "ORDER": position}
        for position, s in enumerate(template.sections, start=1)
    ]  # fmt: skip


def _place_errors(exc: DomainError, form: f.PostmortemTemplateForm, rows: list[Any]) -> None:
    """Put a service's field errors (`sections.2.key`) on the row they name."""
    placed = False
    for name, errors in exc.fields.items():
        match = _SECTION_FIELD.match(name)
        for error in errors:
            if match and int(match.group(1)) < len(rows) and match.group(2) in rows[int(match.group(1))].fields:
                rows[int(match.group(1))].add_error(match.group(2), error)
            elif name in form.fields:
                form.add_error(name, error)
            else:
                form.add_error(None, error)
            placed = True
    if not placed:
        form.add_error(None, _describe(exc))


@login_required
@require_http_methods(["GET", "POST"])
def postmortem_template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _require(request, MANAGER)
    template = get_object_or_404(PostmortemTemplate, pk=pk) if pk is not None else None
    if request.method == "GET":
        initial = {"name": template.name, "description": template.description, "is_default": template.is_default} if template else {}
        form = f.PostmortemTemplateForm(initial=initial)
        sections = f.TemplateSectionFormSet(prefix=PREFIX, initial=_initial_sections(template))
        return render(request, "incidents/postmortem_template_edit.html", {"template": template, "form": form, "sections": sections})
    form = f.PostmortemTemplateForm(request.POST)
    sections = f.TemplateSectionFormSet(request.POST, prefix=PREFIX, initial=_initial_sections(template))
    if form.is_valid() and sections.is_valid():
        rows = sections.ordered_forms
        data = [{name: row.cleaned_data[name] for name in ("title", "key", "required", "prompt")} for row in rows]
        try:
            if template is None:
                template = template_services.postmortem_template_create(by=request.user, sections=data, **form.cleaned_data)
            else:
                template_services.postmortem_template_update(template=template, by=request.user, sections=data, **form.cleaned_data)
        except DomainError as exc:
            _place_errors(exc, form, rows)
        else:
            messages.success(request, f"Postmortem template “{template.name}” saved.")
            return redirect("postmortem-templates")
    context = {"template": template, "form": form, "sections": sections}
    return render(request, "incidents/postmortem_template_edit.html", context, status=400)


@login_required
@require_GET
def postmortem_template_section(request: HttpRequest) -> HttpResponse:
    """One more empty section row (htmx), and the formset's new row count, swapped
    out of band, so that the posted form counts it."""
    _require(request, MANAGER)
    try:
        index = int(request.GET.get(f"{PREFIX}-TOTAL_FORMS", "0"))
    except ValueError:
        index = 0
    index = max(0, min(index, template_services.MAX_SECTIONS))
    row = f.TemplateSectionFormSet(prefix=PREFIX).empty_form
    row.prefix = f"{PREFIX}-{index}"
    return render(request, "incidents/partials/template_section_row.html", {"row": row, "total": index + 1, "oob": True})


@login_required
@require_POST
def postmortem_template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, MANAGER)
    template = get_object_or_404(PostmortemTemplate, pk=pk)
    template_services.postmortem_template_delete(template=template, by=request.user)
    messages.success(request, f"Postmortem template “{template.name}” deleted; postmortems started from it keep their sections.")
    return redirect("postmortem-templates")
