from __future__ import annotations

from django.urls import path

from incidents.notify import views as notify_views
from incidents.oncall import views

urlpatterns = [
    path("schedules/", views.schedule_list, name="oncall-schedules"),
    path("schedules/<slug:slug>/", views.schedule_detail, name="oncall-schedule"),
    path("schedules/<slug:slug>/calendar.ics", views.schedule_ical, name="oncall-schedule-ical"),
    path("me/calendar.ics", views.my_ical, name="oncall-my-ical"),
    path("me/", views.my_notifications, name="oncall-me"),
    path("policies/", views.policy_list, name="oncall-policies"),
    path("deliveries/", views.delivery_log, name="oncall-deliveries"),
    path("incidents/<str:ref>/acknowledge/", views.acknowledge, name="oncall-acknowledge"),
    path("ack/<str:token>/", views.ack_link, name="oncall-ack-link"),
    path("subscribers/", notify_views.subscribers_page, name="notify-subscribers"),
    path("subscribers/export.csv", notify_views.subscribers_export, name="notify-subscribers-export"),
]
