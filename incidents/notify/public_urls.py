from __future__ import annotations

from django.urls import path

from incidents.notify import public_views

urlpatterns = [
    path("", public_views.subscribe, name="subscriber-subscribe"),
    path("confirm/<str:token>/", public_views.confirm, name="subscriber-confirm"),
    path("unsubscribe/<str:token>/", public_views.unsubscribe, name="subscriber-unsubscribe"),
]
