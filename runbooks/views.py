"""Runbook pages: the library, a runbook, the import with its preview, a run with
live progress, and the war room's panel of suggested runbooks and runs."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.models import Incident, Service
from portal.errors import DomainError
from portal.models import OrgRole, has_role
from runbooks import selectors, services
from runbooks.editor import RunbookForm, StepFormSet, step_initial, steps_from, words
from runbooks.forms import ImportForm, RunStartForm, StepCompleteForm
from runbooks.models import Cluster, Run, StepKind, StepState
from runbooks.services.library import import_preview


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))  # set by django-htmx's middleware


def _require(request: HttpRequest, role: str) -> None:
    if not has_role(request.user, role):
        raise PermissionDenied(f"This needs the {role} role.")


def _message(exc: DomainError) -> str:
    text = exc.message
    for field, errors in exc.fields.items():
        text += f" ({field}: {' '.join(str(e) for e in errors)})"
    return text


@login_required
@require_GET
def library(request: HttpRequest) -> HttpResponse:
    q, service = request.GET.get("q", "").strip(), request.GET.get("service", "").strip()
    runbooks = list(selectors.runbook_list_qs(q=q, service=service).prefetch_related("steps")[:500])
    rows = [(rb, sum(1 for s in rb.steps.all() if s.kind == StepKind.AUTOMATED), len(rb.steps.all())) for rb in runbooks]
    return render(request, "runbooks/library.html", {
        "rows": rows, "q": q, "service": service, "services": Service.objects.order_by("name"),
        "can_manage": has_role(request.user, OrgRole.MANAGER),
    })  # fmt: skip


@login_required
@require_http_methods(["GET", "POST"])
def runbook_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """The editor: the runbook's fields and its steps as rows (add, remove, reorder)."""
    _require(request, OrgRole.MANAGER)
    runbook = get_object_or_404(selectors.runbook_detail_qs(), pk=pk) if pk is not None else None
    errors: list[str] = []
    if request.method == "POST":
        form, steps = RunbookForm(request.POST), StepFormSet(request.POST, prefix="steps")
        if form.is_valid() and steps.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    saved = services.runbook_save(
                        runbook=runbook, title=data["title"], description=data["description"], services=data["services"],
                        tags=words(data["tags"]), alert_names=words(data["alert_names"]), steps=steps_from(steps), by=request.user,
                    )  # fmt: skip
                    services.checklists_set(runbook=saved, severities=list(data["checklist_for"]), by=request.user)
            except DomainError as exc:
                errors.append(_message(exc))
            else:
                messages.success(request, "Runbook saved.")
                return redirect("runbooks:detail", pk=saved.pk)
        else:
            errors.append("Please correct the fields marked below.")
    else:
        form = RunbookForm(initial=RunbookForm.initial_for(runbook) if runbook else None)
        steps = StepFormSet(initial=[step_initial(s) for s in runbook.steps.all()] if runbook else None, prefix="steps")
    return render(request, "runbooks/edit.html", {"runbook": runbook, "form": form, "steps": steps, "errors": errors})


@login_required
@require_GET
def runbook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    runbook = get_object_or_404(selectors.runbook_detail_qs(), pk=pk)
    initial: dict[str, Any] = {}
    if request.GET.get("incident"):
        incident_id = Incident.id_from_reference(request.GET["incident"])
        initial["incident"] = incident_id
    cluster = Cluster.objects.first()
    if cluster is not None:
        initial["cluster"] = cluster.name
    return render(request, "runbooks/runbook_detail.html", {
        "runbook": runbook, "steps": list(runbook.steps.all()), "form": RunStartForm(initial=initial),
        "runs": list(selectors.run_list_qs(runbook_id=runbook.pk)[:20]),
        "can_start": has_role(request.user, OrgRole.RESPONDER), "can_edit": has_role(request.user, OrgRole.MANAGER),
    })  # fmt: skip


@login_required
@require_POST
def run_start(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, OrgRole.RESPONDER)
    runbook = get_object_or_404(selectors.runbook_detail_qs(), pk=pk)
    form = RunStartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Please correct the form: " + " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("runbooks:detail", pk=pk)
    try:
        run = services.run_start(runbook=runbook, by=request.user, incident=form.cleaned_data["incident"],
                                 cluster=form.cleaned_data["cluster"], namespace=form.cleaned_data["namespace"],
                                 dry_run=form.cleaned_data["dry_run"])  # fmt: skip
    except DomainError as exc:
        messages.error(request, _message(exc))
        return redirect("runbooks:detail", pk=pk)
    return redirect("runbooks:run", pk=run.pk)


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest) -> HttpResponse:
    _require(request, OrgRole.MANAGER)
    form = ImportForm(request.POST or None, request.FILES or None)
    preview = None
    if request.method == "POST" and form.is_valid():
        markdown = form.cleaned_data["markdown"]
        if request.POST.get("save"):
            try:
                created = services.runbook_import(text=markdown, by=request.user)
            except DomainError as exc:
                messages.error(request, _message(exc))
            else:
                messages.success(request, f"Imported {len(created)} runbook{'s' if len(created) != 1 else ''}.")
                return redirect("runbooks:library")
        preview = import_preview(markdown)["runbooks"]
        form = ImportForm(initial={"markdown": markdown})
    return render(request, "runbooks/import.html", {"form": form, "preview": preview})


def _run_or_404(pk: int) -> Run:
    return get_object_or_404(selectors.run_detail_qs(), pk=pk)


def _run_context(request: HttpRequest, run: Run) -> dict[str, Any]:
    steps = list(run.step_runs.all())
    current = next((s for s in steps if not s.is_settled), None)
    return {"run": run, "steps": steps, "current": current, "can_act": has_role(request.user, OrgRole.RESPONDER),
            "complete_form": StepCompleteForm(), "live": not run.is_finished or any(s.state == StepState.RUNNING for s in steps),
            "audit": list(run.audit.select_related("actor").order_by("-at", "-id")[:50])}  # fmt: skip


@login_required
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_or_404(pk)
    template = "runbooks/partials/run_steps.html" if _is_htmx(request) else "runbooks/run.html"
    return render(request, template, _run_context(request, run))


@login_required
@require_POST
def step_act(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    _require(request, OrgRole.RESPONDER)
    step_run = get_object_or_404(selectors.step_run_qs(), pk=pk)
    try:
        if verb == "approve":
            services.step_approve(step_run=step_run, by=request.user)
        elif verb == "retry":
            services.step_retry(step_run=step_run, by=request.user)
        elif verb == "complete":
            form = StepCompleteForm(request.POST)
            if not form.is_valid():
                raise Http404
            services.step_complete(step_run=step_run, by=request.user, outcome=form.cleaned_data["outcome"],
                                   note=form.cleaned_data["note"])  # fmt: skip
        else:
            raise Http404
    except DomainError as exc:
        messages.error(request, _message(exc))
    return _after(request, step_run.run_id)


@login_required
@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, OrgRole.RESPONDER)
    run = _run_or_404(pk)
    try:
        services.run_cancel(run=run, by=request.user, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, _message(exc))
    return _after(request, run.pk)


def _after(request: HttpRequest, run_id: int) -> HttpResponse:
    if _is_htmx(request):
        return render(request, "runbooks/partials/run_steps.html", _run_context(request, _run_or_404(run_id)))
    return redirect("runbooks:run", pk=run_id)


@login_required
@require_GET
def incident_panel(request: HttpRequest, incident_id: int) -> HttpResponse:
    """The war room's runbook card, fetched by the page (the incident core does not
    import runbooks): suggested runbooks and this incident's runs."""
    incident = get_object_or_404(Incident, pk=incident_id)
    return render(request, "runbooks/partials/incident_panel.html", {
        "incident": incident, "suggested": selectors.suggested_runbooks(incident),
        "checklists": selectors.incident_checklists(incident),
        "runs": list(selectors.run_list_qs(incident_id=incident.pk)[:10]),
    })  # fmt: skip
