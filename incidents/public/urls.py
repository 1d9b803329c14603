from __future__ import annotations

from django.urls import path

from incidents.public import views

app_name = "public"

urlpatterns = [
    path("", views.serve, name="status"),
    path("history/", views.serve, name="history"),
    path("incidents/<int:pk>/", views.incident, name="incident"),
    path("feed.atom", views.serve, name="feed-atom"),
    path("feed.rss", views.serve, name="feed-rss"),
    path("badge.svg", views.serve, name="page-badge"),
    path("badge/<slug:slug>.svg", views.serve, name="badge"),
]
