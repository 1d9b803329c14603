from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from incidents.models import LayerMember, Rotation, Schedule, ScheduleLayer, ScheduleOverride
from incidents.oncall import selectors
from incidents.oncall.ical import calendar, fold
from incidents.oncall.schedules import final_shifts, on_call_at
from portal.tests.factories import UserFactory

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def make_schedule(tz: str, rotation: str, start: datetime, people: list, *, hours: int | None = None, **layer: object) -> Schedule:
    schedule = Schedule.objects.create(slug=f"s-{Schedule.objects.count()}", name="Primary", time_zone=tz)
    lay = ScheduleLayer.objects.create(schedule=schedule, name="Rota", rotation=rotation, shift_hours=hours, rotation_start=start, **layer)
    for i, person in enumerate(people):
        LayerMember.objects.create(layer=lay, user=person, position=i)
    return schedule


@pytest.fixture
def people(db: object) -> list:
    return [UserFactory(username=name, first_name=name.title(), last_name="") for name in ("ada", "bob", "cy")]


def test_a_daily_handoff_stays_at_nine_local_across_the_spring_change(people: list) -> None:
    ada, bob, cy = people
    schedule = make_schedule("Europe/Berlin", Rotation.DAILY, datetime(2026, 3, 27, 9, 0, tzinfo=BERLIN), [ada, bob, cy])
    # 28 March: CET (+1), 09:00 local is 08:00 UTC; 29 March: CEST (+2), 09:00 local is 07:00 UTC
    assert on_call_at(schedule, utc(2026, 3, 28, 7, 59)) == ada.pk
    assert on_call_at(schedule, utc(2026, 3, 28, 8, 0)) == bob.pk
    assert on_call_at(schedule, utc(2026, 3, 29, 6, 59)) == bob.pk
    assert on_call_at(schedule, utc(2026, 3, 29, 7, 0)) == cy.pk
    shifts = final_shifts(schedule, utc(2026, 3, 28, 8, 0), utc(2026, 3, 30, 7, 0))
    assert [(s.user_id, s.end - s.start) for s in shifts] == [(bob.pk, timedelta(hours=23)), (cy.pk, timedelta(hours=24))]


def test_a_weekly_monday_handoff_across_the_autumn_change_in_new_york(people: list) -> None:
    ada, bob, _ = people
    schedule = make_schedule("America/New_York", Rotation.WEEKLY, datetime(2026, 10, 26, 9, 0, tzinfo=NEW_YORK), [ada, bob])
    # clocks go back on Sunday 1 November; Monday 2 November 09:00 EST is 14:00 UTC (13:00 UTC the week before)
    assert on_call_at(schedule, utc(2026, 10, 26, 13, 0)) == ada.pk
    assert on_call_at(schedule, utc(2026, 11, 2, 13, 59)) == ada.pk
    assert on_call_at(schedule, utc(2026, 11, 2, 14, 0)) == bob.pk
    shift = final_shifts(schedule, utc(2026, 10, 26, 13, 0), utc(2026, 11, 2, 14, 0))
    assert [(s.user_id, s.end - s.start) for s in shift] == [(ada.pk, timedelta(days=7, hours=1))]
    assert on_call_at(schedule, utc(2026, 10, 26, 12, 59)) is None  # before the rotation starts


def test_a_custom_rotation_counts_elapsed_hours_through_the_change(people: list) -> None:
    ada, bob, _ = people
    schedule = make_schedule("Europe/Berlin", Rotation.CUSTOM, utc(2026, 3, 29, 0, 0), [ada, bob], hours=12)
    assert on_call_at(schedule, utc(2026, 3, 29, 11, 59)) == ada.pk
    assert on_call_at(schedule, utc(2026, 3, 29, 12, 0)) == bob.pk
    assert on_call_at(schedule, utc(2026, 3, 30, 0, 0)) == ada.pk


def test_a_restricted_layer_covers_weekdays_nine_to_five_and_a_lower_layer_the_rest(people: list) -> None:
    ada, bob, cy = people
    schedule = make_schedule("Europe/Berlin", Rotation.WEEKLY, datetime(2026, 6, 1, 9, 0, tzinfo=BERLIN), [cy])
    ScheduleLayer.objects.filter(schedule=schedule).update(priority=1)
    business = ScheduleLayer.objects.create(
        schedule=schedule, name="Business hours", priority=2, rotation=Rotation.WEEKLY,
        rotation_start=datetime(2026, 6, 1, 9, 0, tzinfo=BERLIN), restrict_weekdays=[1, 2, 3, 4, 5],
        restrict_start=time(9, 0), restrict_end=time(17, 0),
    )
    LayerMember.objects.create(layer=business, user=ada, position=0)
    # Wednesday 3 June 2026, CEST (+2)
    assert on_call_at(schedule, utc(2026, 6, 3, 7, 0)) == ada.pk  # 09:00 local
    assert on_call_at(schedule, utc(2026, 6, 3, 14, 59)) == ada.pk
    assert on_call_at(schedule, utc(2026, 6, 3, 15, 0)) == cy.pk  # 17:00 local
    assert on_call_at(schedule, utc(2026, 6, 6, 10, 0)) == cy.pk  # Saturday
    day = final_shifts(schedule, utc(2026, 6, 2, 22, 0), utc(2026, 6, 3, 22, 0))
    assert [(s.user_id, s.start, s.end) for s in day] == [
        (cy.pk, utc(2026, 6, 2, 22, 0), utc(2026, 6, 3, 7, 0)),
        (ada.pk, utc(2026, 6, 3, 7, 0), utc(2026, 6, 3, 15, 0)),
        (cy.pk, utc(2026, 6, 3, 15, 0), utc(2026, 6, 3, 22, 0)),
    ]


def test_an_override_puts_someone_else_on_call_and_the_newest_wins(people: list) -> None:
    ada, bob, cy = people
    schedule = make_schedule("UTC", Rotation.DAILY, utc(2026, 5, 1, 9, 0), [ada])
    ScheduleOverride.objects.create(schedule=schedule, user=bob, starts_at=utc(2026, 5, 2, 12), ends_at=utc(2026, 5, 2, 18))
    ScheduleOverride.objects.create(schedule=schedule, user=cy, starts_at=utc(2026, 5, 2, 14), ends_at=utc(2026, 5, 2, 15))
    shifts = final_shifts(schedule, utc(2026, 5, 2, 9), utc(2026, 5, 3, 9))
    assert [(s.user_id, s.start.hour, s.end.hour, s.layer) for s in shifts] == [
        (ada.pk, 9, 12, "Rota"), (bob.pk, 12, 14, "override"), (cy.pk, 14, 15, "override"),
        (bob.pk, 15, 18, "override"), (ada.pk, 18, 9, "Rota"),
    ]


def test_the_next_fourteen_days_and_who_is_on_call_now_follow_the_clock(people: list) -> None:
    ada, bob, _ = people
    schedule = make_schedule("Europe/Berlin", Rotation.WEEKLY, datetime(2026, 3, 23, 9, 0, tzinfo=BERLIN), [ada, bob])
    with time_machine.travel(utc(2026, 3, 25, 12, 0), tick=False):
        assert selectors.on_call_now(schedule) == ada
        shifts = selectors.next_shifts(schedule)
    assert [(s.user_id, s.start, s.end) for s in shifts] == [
        (ada.pk, utc(2026, 3, 25, 12, 0), utc(2026, 3, 30, 7, 0)),
        (bob.pk, utc(2026, 3, 30, 7, 0), utc(2026, 4, 6, 7, 0)),
        (ada.pk, utc(2026, 4, 6, 7, 0), utc(2026, 4, 8, 12, 0)),
    ]
    with time_machine.travel(utc(2026, 3, 30, 7, 0), tick=False):
        assert selectors.on_call_now(schedule) == bob


def test_the_ical_feed_is_rfc5545(people: list) -> None:
    ada, _, _ = people
    schedule = make_schedule("UTC", Rotation.DAILY, utc(2026, 5, 1, 9, 0), [ada])
    shifts = final_shifts(schedule, utc(2026, 5, 1, 9), utc(2026, 5, 2, 9))
    text = calendar(name="Primary; on call, EU", shifts=shifts, people={ada.pk: "Ada"}, uid_prefix="s1", now=utc(2026, 5, 1))
    lines = text.split("\r\n")
    assert lines[:6] == ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Incident Portal//On-call//EN", "CALSCALE:GREGORIAN",
                         "METHOD:PUBLISH", "X-WR-CALNAME:Primary\\; on call\\, EU"]
    assert "DTSTART:20260501T090000Z" in lines and "DTEND:20260502T090000Z" in lines and "SUMMARY:On call: Ada" in lines
    assert text.endswith("END:VCALENDAR\r\n")
    folded = fold("SUMMARY:" + "é" * 80)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == "SUMMARY:" + "é" * 80


def test_a_swap_gives_the_shift_to_the_other_person(people: list) -> None:
    from incidents.oncall.services import shift_swap

    ada, bob, _ = people
    schedule = make_schedule("UTC", Rotation.DAILY, utc(2026, 5, 1, 9, 0), [ada, bob])
    shift_swap(schedule=schedule, user=ada, with_user=bob, starts_at=utc(2026, 5, 3, 9), ends_at=utc(2026, 5, 4, 9), by=ada)
    shift_swap(schedule=schedule, user=bob, with_user=ada, starts_at=utc(2026, 5, 4, 9), ends_at=utc(2026, 5, 5, 9), by=ada)
    assert [on_call_at(schedule, utc(2026, 5, d, 12)) for d in (3, 4, 5)] == [bob.pk, ada.pk, ada.pk]
    assert ScheduleOverride.objects.filter(reason="swap with ada").count() == 1
