"""On-call pages: schedules and their 14-day view, iCalendar feeds, escalation policies,
my notification settings, the delivery log, and acknowledgement (war room, signed link)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from incidents.models import ContactMethod, Incident, NotificationDelivery, NotificationRule, Schedule
from incidents.notify import outbox
from incidents.oncall import forms, ical, selectors, services
from incidents.oncall.acklink import read_ack_token
from incidents.oncall.paging import escalation_acknowledge
from portal.errors import DomainError
from portal.models import OrgRole, display_name, has_role

User = get_user_model()


def _require(request: HttpRequest, role: str) -> None:
    if not has_role(request.user, role):
        raise PermissionDenied(f"This needs the {role} role.")


def _person(request: HttpRequest) -> Any:
    """The signed-in account (the views below are `login_required`)."""
    if not isinstance(request.user, User):
        raise PermissionDenied("Sign in first.")
    return request.user


def _ctx(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {"can_act": has_role(request.user, OrgRole.RESPONDER), "can_manage": has_role(request.user, OrgRole.MANAGER),
            "can_respond": has_role(request.user, OrgRole.RESPONDER), **extra}


@login_required
def schedule_list(request: HttpRequest) -> HttpResponse:
    _require(request, OrgRole.VIEWER)
    rows = [{"schedule": s, "now": selectors.on_call_now(s)} for s in selectors.schedule_list_qs()]
    return render(request, "oncall/schedule_list.html", _ctx(request, rows=rows))


@login_required
def schedule_detail(request: HttpRequest, slug: str) -> HttpResponse:
    _require(request, OrgRole.VIEWER)
    schedule = get_object_or_404(selectors.schedule_list_qs(), slug=slug)
    form = forms.OverrideForm(request.POST or None)
    if request.method == "POST":
        _require(request, OrgRole.RESPONDER)
        if form.is_valid():
            try:
                services.override_create(schedule=schedule, by=request.user, **form.cleaned_data)
                messages.success(request, "Override added.")
                return HttpResponseRedirect(reverse("oncall-schedule", args=[slug]))
            except DomainError as exc:
                form.add_error(None, exc.message)
    return render(request, "oncall/schedule_detail.html", _ctx(
        request, schedule=schedule, now=selectors.on_call_now(schedule), rows=selectors.timeline_rows(schedule), form=form,
        overrides=schedule.overrides.filter(ends_at__gt=timezone.now()).select_related("user"),
        ical_url=reverse("oncall-schedule-ical", args=[slug]),
    ))


def _ics(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{name}.ics"'
    return response


@login_required
def schedule_ical(request: HttpRequest, slug: str) -> HttpResponse:
    _require(request, OrgRole.VIEWER)
    schedule = get_object_or_404(Schedule, slug=slug)
    shifts = selectors.next_shifts(schedule, days=60)
    people = selectors.people_names(s.user_id for s in shifts)
    return _ics(ical.calendar(name=f"On call: {schedule.name}", shifts=shifts, people=people, uid_prefix=f"schedule-{schedule.pk}",
                              now=timezone.now()), schedule.slug)


@login_required
def my_ical(request: HttpRequest) -> HttpResponse:
    me = _person(request)
    shifts = selectors.user_shifts(me.pk, days=60)
    names = dict(Schedule.objects.values_list("pk", "name"))
    return _ics(ical.calendar(name=f"On call: {display_name(me)}", shifts=shifts, people={me.pk: display_name(me)},
                              schedule_names=names, uid_prefix=f"user-{me.pk}", now=timezone.now()), "my-on-call")


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    _require(request, OrgRole.VIEWER)
    return render(request, "oncall/policy_list.html", _ctx(request, policies=selectors.policy_list_qs()))


@login_required
@require_http_methods(["GET", "POST"])
def my_notifications(request: HttpRequest) -> HttpResponse:
    me = _person(request)
    method_form = forms.ContactMethodForm(request.POST if request.POST.get("form") == "method" else None)
    rule_form = forms.RuleForm(request.POST if request.POST.get("form") == "rule" else None, user=me)
    if request.method == "POST":
        try:
            if request.POST.get("form") == "method" and method_form.is_valid():
                services.contact_method_create(user=me, **method_form.cleaned_data)
                messages.success(request, "Contact method added.")
                return HttpResponseRedirect(reverse("oncall-me"))
            if request.POST.get("form") == "rule" and rule_form.is_valid():
                services.notification_rule_create(user=me, **rule_form.cleaned_data)
                messages.success(request, "Notification rule added.")
                return HttpResponseRedirect(reverse("oncall-me"))
            if request.POST.get("form") == "delete-method":
                ContactMethod.objects.filter(user=me, pk=request.POST.get("pk") or 0).delete()
                return HttpResponseRedirect(reverse("oncall-me"))
            if request.POST.get("form") == "delete-rule":
                NotificationRule.objects.filter(user=me, pk=request.POST.get("pk") or 0).delete()
                return HttpResponseRedirect(reverse("oncall-me"))
        except DomainError as exc:
            (method_form if request.POST.get("form") == "method" else rule_form).add_error(None, exc.message)
    return render(request, "oncall/my_notifications.html", _ctx(
        request, methods=ContactMethod.objects.filter(user=me),
        rules=NotificationRule.objects.filter(user=me).select_related("contact_method"),
        method_form=method_form, rule_form=rule_form, shifts=_my_shifts(me.pk),
    ))


def _my_shifts(user_id: int) -> list[dict[str, Any]]:
    names = dict(Schedule.objects.values_list("pk", "name"))
    return [{"start": s.start, "end": s.end, "schedule": names.get(int(s.layer), "")} for s in selectors.user_shifts(user_id)]


@login_required
def delivery_log(request: HttpRequest) -> HttpResponse:
    _require(request, OrgRole.RESPONDER)
    qs = NotificationDelivery.objects.select_related("notification", "incident", "user", "channel").order_by("-created_at", "-id")
    incident_ref = request.GET.get("incident", "").strip()
    if incident_ref:
        qs = qs.filter(incident_id=Incident.id_from_reference(incident_ref) or 0)
    if request.GET.get("channel", "").isdigit():
        qs = qs.filter(channel_id=int(request.GET["channel"]))
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    show_outbox = settings.EMAIL_BACKEND == "incidents.notify.outbox.OutboxBackend"
    return render(request, "oncall/delivery_log.html", _ctx(
        request, page=page, incident_ref=incident_ref, outbox=outbox.recent(20) if show_outbox else None,
    ))


@login_required
@require_POST
def acknowledge(request: HttpRequest, ref: str) -> HttpResponse:
    """The war room's Acknowledge button."""
    _require(request, OrgRole.RESPONDER)
    pk = Incident.id_from_reference(ref)
    if pk is None or not Incident.objects.filter(pk=pk).exists():
        raise Http404("No such incident.")
    try:
        escalation_acknowledge(incident_id=pk, by=request.user)
        messages.success(request, "Acknowledged: paging stops.")
    except DomainError as exc:
        messages.info(request, exc.message)
    return HttpResponseRedirect(reverse("incident-detail", args=[f"INC-{pk}"]))


@require_http_methods(["GET", "POST"])
def ack_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link in a page. GET only shows a button (mail scanners follow links); POST acknowledges
    as the person the page was sent to."""
    data = read_ack_token(token)
    if data is None:
        return render(request, "oncall/ack_link.html", {"invalid": True}, status=400)
    incident_id, user_id = data
    incident = Incident.objects.select_related("severity").filter(pk=incident_id).first()
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if incident is None or user is None:
        return render(request, "oncall/ack_link.html", {"invalid": True}, status=404)
    done = None
    if request.method == "POST":
        try:
            escalation_acknowledge(incident_id=incident.pk, by=user)
            done = "Acknowledged. Paging has stopped."
        except DomainError as exc:
            done = exc.message
        incident.refresh_from_db()
    return render(request, "oncall/ack_link.html", {"incident": incident, "person": display_name(user), "done": done})
