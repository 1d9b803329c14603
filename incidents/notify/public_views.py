"""Public pages of status subscriptions: subscribe, confirm, unsubscribe (one click)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from incidents.models import Service, StatusSubscriber, Visibility
from incidents.notify import subscribers
from portal.errors import DomainError


class SubscribeForm(forms.Form):
    kind = forms.ChoiceField(choices=StatusSubscriber.Kind.choices, initial="email", widget=forms.RadioSelect)
    address = forms.CharField(max_length=500, label="Email address or webhook URL")
    components = forms.ModelMultipleChoiceField(
        queryset=Service.objects.filter(visibility=Visibility.PUBLIC), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: every component.")


def _page(request: HttpRequest, template: str, status: int = 200, **extra: object) -> HttpResponse:
    return render(request, template, {"site_name": settings.SITE_NAME, **extra}, status=status)


@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    form = SubscribeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            subscriber = subscribers.subscriber_create(**form.cleaned_data)
        except DomainError as exc:
            form.add_error("address", exc.message)
        else:
            done = ("Check your inbox: confirm with the link we sent." if subscriber.kind == StatusSubscriber.Kind.EMAIL
                    else "Subscribed: your webhook receives every update.")
            return _page(request, "notify/subscribe.html", done=done)
    return _page(request, "notify/subscribe.html", status=400 if form.errors else 200, form=form)


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners follow links); POST confirms."""
    subscriber = StatusSubscriber.objects.filter(token=token).first()
    if subscriber is None:
        return _page(request, "notify/subscription.html", status=404, message="This link is not valid.")
    if request.method == "POST":
        subscribers.subscriber_confirm(token=token)
        return _page(request, "notify/subscription.html", message="Subscription confirmed. Thank you.")
    return _page(request, "notify/subscription.html", action="Confirm my subscription")


@csrf_exempt  # the token is the credential; RFC 8058 one-click POSTs come from mail clients without a session
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = StatusSubscriber.objects.filter(token=token).first()
    if subscriber is None:
        return _page(request, "notify/subscription.html", status=404, message="This link is not valid.")
    if request.method == "POST":
        subscribers.subscriber_unsubscribe(token=token)
        return _page(request, "notify/subscription.html", message="Unsubscribed. You will get no more messages.")
    return _page(request, "notify/subscription.html", action="Unsubscribe")
