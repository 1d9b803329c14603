"""On-call demo data: a follow-the-sun primary schedule, a business-hours secondary
and a default escalation policy, so that the demo's active incident is paged."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from incidents.models import (
    EscalationPolicy,
    EscalationStep,
    LayerMember,
    Rotation,
    Schedule,
    ScheduleLayer,
    Severity,
    SeverityPaging,
)


def load(people: dict[str, Any]) -> None:
    tz = ZoneInfo("Europe/Berlin")
    monday = (timezone.now().astimezone(tz) - timedelta(days=timezone.now().astimezone(tz).weekday())).replace(
        hour=9, minute=0, second=0, microsecond=0)
    primary = Schedule.objects.create(slug="primary", name="Primary on call", time_zone="Europe/Berlin")
    weekly = ScheduleLayer.objects.create(schedule=primary, name="Weekly rotation", rotation=Rotation.WEEKLY, rotation_start=monday)
    for i, name in enumerate(("commander", "responder")):
        LayerMember.objects.create(layer=weekly, user=people[name], position=i)
    office = ScheduleLayer.objects.create(
        schedule=primary, name="Office hours", priority=2, rotation=Rotation.DAILY, rotation_start=monday,
        restrict_weekdays=[1, 2, 3, 4, 5], restrict_start=time(9, 0), restrict_end=time(17, 0),
    )
    for i, name in enumerate(("responder", "commander")):
        LayerMember.objects.create(layer=office, user=people[name], position=i)
    policy = EscalationPolicy.objects.create(slug="default", name="Default escalation", repeat=1, is_default=True)
    first = EscalationStep.objects.create(policy=policy, position=0, delay_minutes=5)
    first.schedules.add(primary)
    second = EscalationStep.objects.create(policy=policy, position=1, delay_minutes=15)
    second.users.add(people["manager"])
    sev1 = Severity.objects.filter(name="SEV1").first()
    if sev1 is not None:
        SeverityPaging.objects.create(severity=sev1, update_reminder_minutes=30, postmortem_due_hours=48)
