from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from incidents.models import Notification, NotificationDelivery, Severity, SeverityPaging, TimelineEvent
from incidents.oncall.reminders import handoffs_sweep, reminders_sweep
from incidents.services import incident_change_status, incident_post_update
from portal.tests.factories import declare

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def reminders(incident) -> list[str]:
    return [e.body for e in TimelineEvent.objects.filter(incident=incident).order_by("occurred_at", "id") if "reminder" in e.details]


def test_the_commander_is_nudged_every_n_minutes_without_a_public_update(crew) -> None:
    SeverityPaging.objects.create(severity=Severity.objects.get(name="SEV1"), update_reminder_minutes=30)
    with time_machine.travel(T0, tick=False) as clock:
        incident = declare(title="Checkout down", sev="SEV1", commander=crew["bob"], by=crew["bob"], visibility="public")
        clock.shift(timedelta(minutes=29))
        assert reminders_sweep() == 0
        clock.shift(timedelta(minutes=1))
        assert reminders_sweep() == 1
        assert reminders_sweep() == 0  # once per silence period, however often beat runs
        clock.shift(timedelta(minutes=40))
        incident_post_update(incident=incident, body="We are on it.", by=crew["bob"])
        clock.shift(timedelta(minutes=29))
        assert reminders_sweep() == 0  # 29 minutes since the update
        clock.shift(timedelta(minutes=1))
        assert reminders_sweep() == 1
    ref = incident.reference
    assert reminders(incident) == [f"Reminder: {ref}: no public update for 30 minutes"] * 2
    assert list(NotificationDelivery.objects.values_list("user__username", "kind", "target")) == [("bob", "email", "bob@example.com")] * 2


def test_the_postmortem_owner_is_reminded_before_and_after_it_is_due(crew) -> None:
    SeverityPaging.objects.create(severity=Severity.objects.get(name="SEV1"), postmortem_due_hours=48)
    with time_machine.travel(T0, tick=False) as clock:
        incident = declare(title="Checkout down", sev="SEV1", commander=crew["bob"], by=crew["bob"])
        incident_change_status(incident=incident, status="resolved", by=crew["bob"])
        clock.shift(timedelta(hours=35))
        assert reminders_sweep() == 0
        clock.shift(timedelta(hours=1))  # 12 hours before it is due
        assert reminders_sweep() == 1
        clock.shift(timedelta(hours=12))
        assert reminders_sweep() == 1
        assert reminders_sweep() == 0
    ref = incident.reference
    assert reminders(incident) == [f"Reminder: {ref}: the postmortem is due 2026-03-06 10:00 UTC",
                                   f"Reminder: {ref}: the postmortem was due 2026-03-06 10:00 UTC"]


def test_outgoing_and_incoming_on_call_get_a_handoff_summary_once(crew) -> None:
    handoff = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # Monday 09:00 CET: Ada hands over to Bob
    with time_machine.travel(handoff - timedelta(days=1), tick=False):
        during = declare(title="Search slow", sev="SEV3")
    with time_machine.travel(handoff - timedelta(minutes=1), tick=False):
        assert handoffs_sweep() == 0
    with time_machine.travel(handoff + timedelta(minutes=1), tick=False):
        assert handoffs_sweep() == 1
        assert handoffs_sweep() == 0
    note = Notification.objects.get(event="handoff")
    assert note.subject == "Handoff Primary: Ada Lovelace → Bob Stone"
    assert note.body == (
        f"Open incidents: 1\n- {during.reference} [SEV3] Search slow (Investigating)\n"
        f"Declared during the shift (2026-03-02 08:00 – 2026-03-09 08:00 UTC): 1\n- {during.reference} [SEV3] Search slow (Investigating)"
    )
    assert sorted(note.deliveries.values_list("target", flat=True)) == ["ada@example.com", "bob@example.com"]
