"""People pages for managers (create, change role and teams, deactivate, invite),
and the invitation page where an invited person chooses a password. Writes go
through portal/people.py and portal/invitations.py, as the API's do."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from portal import invitations, people
from portal.errors import DomainError
from portal.fields import CleanFormCharField
from portal.models import Membership, OrgRole, Team, has_role

User = get_user_model()


class PersonForm(forms.Form):
    first_name = CleanFormCharField(max_length=150, required=False)
    last_name = CleanFormCharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=OrgRole.choices, initial=OrgRole.VIEWER)
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.order_by("name"), to_field_name="slug", required=False, widget=forms.CheckboxSelectMultiple
    )

    def changes(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["teams"] = [team.slug for team in data["teams"]]
        return data


class PersonCreateForm(PersonForm):
    username = forms.RegexField(r"^[\w.@+-]+\Z", max_length=150, error_messages={"invalid": "Letters, digits and @ . + - _ only."})
    invite = forms.BooleanField(required=False, initial=True, label="Email an invitation to choose a password")

    field_order = ["username", "first_name", "last_name", "email", "role", "teams", "invite"]


def _require_manager(request: HttpRequest) -> None:
    if not has_role(request.user, OrgRole.MANAGER):
        raise PermissionDenied("This needs the manager role.")


def _apply_errors(form: forms.Form, exc: DomainError) -> None:
    for field, errors in exc.fields.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)
    if not exc.fields:
        form.add_error(None, exc.message)


def _people(show: str) -> Any:
    qs = User.objects.select_related("membership").prefetch_related("teams").order_by("username")
    return qs if show == "all" else qs.filter(is_active=True)


@login_required
@require_http_methods(["GET", "POST"])
def people_list(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = PersonCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = people.person_create(by=request.user, **form.changes())
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            sent = " An invitation is on its way." if form.cleaned_data["invite"] else ""
            messages.success(request, f"{user.username} can now be given work.{sent}")
            return redirect("people")
    show = request.GET.get("show", "active")
    context = {"people": _people(show), "form": form, "show": show}
    return render(request, "portal/people.html", context, status=400 if request.method == "POST" else 200)


def _role(user: Any) -> str:
    try:
        return str(user.membership.role)
    except Membership.DoesNotExist:
        return OrgRole.VIEWER


@login_required
@require_http_methods(["GET", "POST"])
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    person = get_object_or_404(User.objects.select_related("membership").prefetch_related("teams"), pk=pk)
    initial = {"first_name": person.first_name, "last_name": person.last_name, "email": person.email, "role": _role(person),
               "teams": list(person.teams.all())}  # fmt: skip
    form = PersonForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            people.person_update(user=person, by=request.user, **form.changes())
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"{person.username} saved.")
            return redirect("person-edit", pk=person.pk)
    return render(request, "portal/person_edit.html", {"person": person, "form": form}, status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def person_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate (`active=0`) or reactivate (`active=1`) an account."""
    _require_manager(request)
    person = get_object_or_404(User, pk=pk)
    active = request.POST.get("active") == "1"
    try:
        people.person_update(user=person, by=request.user, is_active=active)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{person.username} {'reactivated' if active else 'deactivated: they can no longer sign in'}.")
    return redirect("person-edit", pk=person.pk)


@login_required
@require_POST
def person_invite(request: HttpRequest, pk: int) -> HttpResponse:
    """Send an invitation. From the list, htmx swaps the button for the outcome."""
    _require_manager(request)
    person = get_object_or_404(User, pk=pk)
    try:
        people.person_invite(user=person, by=request.user)
    except DomainError as exc:
        text, status = exc.message, exc.status_code
    else:
        text, status = f"Invitation sent to {person.email}.", 200
    if getattr(request, "htmx", False):
        return render(request, "portal/partials/invite_outcome.html", {"text": text, "ok": status == 200}, status=status)
    (messages.success if status == 200 else messages.error)(request, text)
    return redirect("person-edit", pk=person.pk)


@never_cache
@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Where an invited person chooses a password; open to anyone holding the link."""
    try:
        person = invitations.user_for(token)
    except invitations.InvitationInvalid as exc:
        return render(request, "registration/invitation.html", {"refused": exc.reason}, status=400 if exc.reason == "invalid" else 410)
    form = SetPasswordForm(person, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitations.invitation_accept(token=token, password=form.cleaned_data["new_password1"])
        except invitations.InvitationInvalid as exc:
            return render(request, "registration/invitation.html", {"refused": exc.reason}, status=410)
        messages.success(request, "Your password is set. Sign in with it.")
        return redirect("login")
    context = {"person": person, "form": form}
    return render(request, "registration/invitation.html", context, status=400 if request.method == "POST" else 200)


urlpatterns = [
    path("", people_list, name="people"),
    path("<int:pk>/", person_edit, name="person-edit"),
    path("<int:pk>/active/", person_active, name="person-active"),
    path("<int:pk>/invite/", person_invite, name="person-invite"),
]

invitation_urlpatterns = [path("<str:token>/", invitation, name="invitation")]
