"""Managers' page of status page subscribers: counts, the list, CSV import and export,
and which message templates subscribers receive."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from incidents.models import MessageTemplate, MessageTemplateKind, StatusSubscriber
from incidents.notify import announce, subscriber_io
from portal.errors import DomainError
from portal.models import OrgRole, has_role


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV file (email, components, confirmed)")


class MessagesForm(forms.Form):
    """One choice per kind of public change: a message template of that kind, or the built-in wording."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for row in announce.subscriber_messages():
            self.fields[row["kind"]] = forms.ModelChoiceField(
                queryset=MessageTemplate.objects.filter(kind=row["kind"]).order_by("name"), required=False,
                empty_label="Built-in wording", label=row["label"], initial=row["template"])


def _manager(request: HttpRequest) -> None:
    if not has_role(request.user, OrgRole.MANAGER):
        raise PermissionDenied("This needs the manager role.")


@login_required
@require_http_methods(["GET", "POST"])
def subscribers_page(request: HttpRequest) -> HttpResponse:
    _manager(request)
    import_form = ImportForm(request.POST or None, request.FILES or None) if request.POST.get("form") == "import" else ImportForm()
    messages_form = MessagesForm(request.POST if request.POST.get("form") == "messages" else None)
    result = None
    errors: list[str] = []
    if request.method == "POST" and request.POST.get("form") == "import" and import_form.is_valid():
        try:
            result = subscriber_io.subscribers_import(data=import_form.cleaned_data["file"].read(subscriber_io.MAX_BYTES + 1), by=request.user)
        except DomainError as exc:
            errors = [exc.message, *[e for field in exc.fields.values() for e in field]]
    if request.method == "POST" and request.POST.get("form") == "messages" and messages_form.is_valid():
        for kind in MessageTemplateKind.values:
            announce.subscriber_message_choose(kind=kind, template=messages_form.cleaned_data.get(kind), by=request.user)
        messages.success(request, "Subscriber messages saved.")
        return HttpResponseRedirect(reverse("notify-subscribers"))
    qs = StatusSubscriber.objects.prefetch_related("components").order_by("-created_at", "-id")
    query = request.GET.get("q", "").strip()
    if query:
        qs = qs.filter(address__icontains=query)
    counts = StatusSubscriber.objects.aggregate(
        active=Count("pk", filter=Q(confirmed_at__isnull=False, unsubscribed_at__isnull=True)),
        pending=Count("pk", filter=Q(confirmed_at__isnull=True, unsubscribed_at__isnull=True)),
        unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
    )
    return render(request, "notify/subscribers.html", {
        "page": Paginator(qs, 50).get_page(request.GET.get("page")), "query": query, "counts": counts,
        "import_form": import_form, "result": result, "errors": errors, "messages_form": messages_form,
        "subscriber_messages": announce.subscriber_messages(), "notice_hours": int(announce.notice_period().total_seconds() // 3600),
    }, status=400 if errors else 200)


@login_required
@require_GET
def subscribers_export(request: HttpRequest) -> HttpResponse:
    _manager(request)
    response = HttpResponse(subscriber_io.export_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="status-subscribers.csv"'
    return response
