"""Pages: integrations (managers), alerts (responders)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from incidents.integrations import selectors, services
from incidents.integrations.editor import Editor, dry_run
from incidents.integrations.forms import IntegrationForm
from incidents.integrations.pipeline import registry
from incidents.models import Alert, AlertStatus, Delivery, Integration
from portal.errors import ValidationFailed
from portal.models import OrgRole, has_role
from portal.text import clean_text

TOKEN_SESSION_KEY = "integration-token-{pk}"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails  # set by django_htmx's middleware


def _require(request: HttpRequest, role: str) -> None:
    if not has_role(request.user, role):
        raise PermissionDenied(f"This page needs the {role} role.")


def _get_integration_for_manager(request: HttpRequest, pk: int) -> Integration:
    _require(request, OrgRole.MANAGER)
    return get_object_or_404(Integration, pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def integration_list(request: HttpRequest) -> HttpResponse:
    _require(request, OrgRole.MANAGER)
    form = IntegrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            integration, token = services.integration_create(by=request.user, **form.service_kwargs())
        except ValidationFailed as exc:
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            request.session[TOKEN_SESSION_KEY.format(pk=integration.pk)] = token
            messages.success(request, f"Integration “{integration.name}” created. Copy its secret now: it is shown only once.")
            return redirect("integrations:detail", pk=integration.pk)
    return render(
        request,
        "integrations/integration_list.html",
        {"integrations": selectors.integration_list_qs(), "form": form},
        status=400 if request.method == "POST" else 200,
    )


def _detail_context(request: HttpRequest, integration: Integration, token: str | None = None, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "integration": integration,
        "token": token,
        "url": registry.receiver_url(integration, token),
        "deliveries": selectors.integration_deliveries(integration),
        "firing": selectors.alert_list_qs(status="open", integration_id=integration.pk)[:20],
        "alert_fields": selectors.alert_fields(integration),
    }
    context.setdefault("editor", extra.pop("editor", None) or Editor(integration))
    context["sample"] = extra.pop("sample", None) or json.dumps(json.loads(services.sample_body(integration)[0]), indent=2)
    return {**context, **extra}


@login_required
def integration_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    integration = _get_integration_for_manager(request, pk)
    if request.htmx:
        context = {"deliveries": selectors.integration_deliveries(integration), "integration": integration}
        return render(request, "integrations/partials/deliveries.html", context)
    token = request.session.pop(TOKEN_SESSION_KEY.format(pk=integration.pk), None)
    return render(request, "integrations/integration_detail.html", _detail_context(request, integration, token))


@login_required
@require_POST
def integration_routing(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the routing rules and the severity mapping from the editor's rows."""
    integration = _get_integration_for_manager(request, pk)
    editor = Editor(integration, request.POST)
    if editor.is_valid():
        rules, mapping = editor.config()
        try:
            services.integration_update(integration=integration, by=request.user, routing_rules=rules, severity_mapping=mapping)
        except ValidationFailed as exc:
            editor.refuse(exc)
        else:
            messages.success(request, "Routing and severity mapping saved.")
            return redirect(reverse("integrations:detail", args=[integration.pk]) + "#routing")
    context = _detail_context(request, integration, editor=editor, sample=request.POST.get("sample", ""))
    return render(request, "integrations/integration_detail.html", context, status=400)


@login_required
@require_POST
def integration_routing_test(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """What the rows on screen (saved or not) would do with the sample payload."""
    integration = _get_integration_for_manager(request, pk)
    editor = Editor(integration, request.POST)
    sample = request.POST.get("sample", "")
    outcomes: list[Any] = []
    problems: list[str] = []
    if editor.is_valid():
        rules, mapping = editor.config()
        outcomes, problems = dry_run(integration, rules, mapping, sample)
    else:
        problems = ["Correct the rows marked below first."]
    status = 200 if outcomes or not problems else 400
    result: dict[str, Any] = {"outcomes": outcomes, "problems": problems, "tested": True}
    if request.htmx:
        return render(request, "integrations/partials/routing_test.html", result, status=status)
    context = _detail_context(request, integration, editor=editor, sample=sample, **result)
    return render(request, "integrations/integration_detail.html", context, status=status)


@login_required
@require_POST
def integration_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    integration = _get_integration_for_manager(request, pk)
    integration, token = services.integration_rotate_token(integration=integration, by=request.user)
    request.session[TOKEN_SESSION_KEY.format(pk=integration.pk)] = token
    messages.success(request, "New secret issued; the old one no longer works. Copy it now: it is shown only once.")
    return redirect("integrations:detail", pk=integration.pk)


@login_required
@require_POST
def integration_sample(request: HttpRequest, pk: int) -> HttpResponse:
    integration = _get_integration_for_manager(request, pk)
    delivery = services.integration_send_sample(integration=integration, by=request.user)
    messages.success(request, f"Sample delivery {delivery.pk} stored and queued. It is marked as a test: its incident never pages and resolves itself.")
    return redirect("integrations:detail", pk=integration.pk)


@login_required
@require_POST
def integration_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    integration = _get_integration_for_manager(request, pk)
    services.integration_update(integration=integration, by=request.user, enabled=not integration.enabled)
    return redirect("integrations:detail", pk=integration.pk)


@login_required
@require_POST
def delivery_retry(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    integration = _get_integration_for_manager(request, pk)
    delivery = get_object_or_404(Delivery, pk=delivery_pk, integration=integration)
    if services.delivery_retry(delivery=delivery, by=request.user):
        messages.success(request, f"Delivery {delivery.pk} queued again.")
    else:
        messages.info(request, "Only failed deliveries can be retried.")
    return redirect("integrations:detail", pk=integration.pk)


@login_required
def alert_list(request: HtmxHttpRequest) -> HttpResponse:
    _require(request, OrgRole.RESPONDER)
    status = request.GET.get("status", "open")
    try:
        integration_id = int(request.GET.get("integration") or 0) or None
    except ValueError:
        integration_id = None
    # clean_text: a NUL in a filter would reach PostgreSQL, which refuses it (a 500)
    qs = selectors.alert_list_qs(
        status=status,
        integration_id=integration_id,
        severity=clean_text(request.GET.get("severity", ""), max_length=32),
        q=clean_text(request.GET.get("q", ""), max_length=200),
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "alerts": page.object_list,
        "filters": {"status": status, "integration": integration_id, "severity": request.GET.get("severity", ""), "q": request.GET.get("q", "")},
        "statuses": [("open", "Open"), *AlertStatus.choices, ("all", "All")],
        "integrations": Integration.objects.order_by("name"),
        "severities": selectors.alert_severities(),
    }
    if request.htmx:
        return render(request, "integrations/partials/alert_rows.html", context)
    return render(request, "integrations/alert_list.html", context)


@login_required
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, OrgRole.RESPONDER)
    alert: Alert = get_object_or_404(selectors.alert_detail_qs(), pk=pk)
    return render(
        request, "integrations/alert_detail.html", {"alert": alert, "deliveries": selectors.alert_deliveries(alert)}
    )
