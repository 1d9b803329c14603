"""Recurring maintenance: RFC 5545 rules materialised as windows, once each."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from incidents.models import MaintenanceRecurrence, MaintenanceWindow
from incidents.public import rebuild
from incidents.services.recurrence import maintenance_recurrences_materialise_all
from incidents.tasks import materialise_maintenance_recurrences
from portal.tests.support import present

pytestmark = pytest.mark.django_db
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)  # a Friday


def create(api, cast, **changes):
    body = {"title": "Weekly database patching", "services": ["api"], "rule": "FREQ=WEEKLY;BYDAY=TU",
            "first_start": "2024-03-05T02:00:00Z", "duration": "02:00:00", "horizon_days": 21, **changes}  # fmt: skip
    return api.as_(cast.responder).post("/api/v1/maintenance-recurrences/", body, format="json")


@time_machine.travel(NOW, tick=False)
def test_weekly_on_tuesday_0200_utc_materialises_the_next_windows_once(api, cast, client, snapshot_dir) -> None:
    response = create(api, cast)
    assert response.status_code == 201, response.json()
    starts = [w["scheduled_start"] for w in response.json()["next_windows"]]
    assert starts == ["2024-03-05T02:00:00+00:00", "2024-03-12T02:00:00+00:00", "2024-03-19T02:00:00+00:00"]
    window = present(MaintenanceWindow.objects.order_by("scheduled_start").first())
    assert (window.scheduled_end - window.scheduled_start).total_seconds() == 7200
    assert list(window.services.values_list("slug", flat=True)) == ["api"]
    # Beat running again, twice, creates nothing new.
    assert materialise_maintenance_recurrences() == 0
    assert maintenance_recurrences_materialise_all() == 0
    assert MaintenanceWindow.objects.count() == 3
    # A week later the horizon has moved by one occurrence.
    with time_machine.travel(datetime(2024, 3, 8, 12, 0, tzinfo=UTC), tick=False):
        assert materialise_maintenance_recurrences() == 1
    # The windows are ordinary ones: listed by the API and the public JSON.
    listed = api.as_(cast.viewer).get("/api/v1/maintenance-windows/").json()
    assert len(listed["results"] if isinstance(listed, dict) else listed) == 4
    rebuild.rebuild()  # as after the commit that scheduled them
    public = client.get("/api/v2/scheduled-maintenances/upcoming.json")
    assert public.status_code == 200 and "Weekly database patching" in public.content.decode()


@time_machine.travel(NOW, tick=False)
def test_monthly_on_the_first_sunday_0300_keeps_local_time_across_dst(api, cast) -> None:
    response = create(api, cast, rule="FREQ=MONTHLY;BYDAY=1SU", first_start="2024-03-03T03:00:00+01:00",
                      timezone="Europe/Berlin", horizon_days=70, duration="01:00:00")  # fmt: skip
    assert response.status_code == 201, response.json()
    starts = [w["scheduled_start"] for w in response.json()["next_windows"]]
    # 03:00 Berlin time every first Sunday: CET in March, CEST (UTC+2) from April.
    assert starts == ["2024-03-03T02:00:00+00:00", "2024-04-07T01:00:00+00:00", "2024-05-05T01:00:00+00:00"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"rule": "FREQ=HOURLY"}, "rule"), ({"rule": "NOT A RULE"}, "rule"), ({"timezone": "Mars/Base"}, "timezone"),
     ({"duration": "00:00:00"}, "duration"), ({"services": []}, "services"), ({"rule": "DTSTART:20240101T000000\\nRRULE:FREQ=DAILY"}, "rule")],  # fmt: skip
)
def test_bad_rules_are_field_errors(api, cast, changes, field) -> None:
    response = create(api, cast, **changes)
    assert response.status_code == 400 and field in response.json()["error"]["fields"], response.json()
    assert not MaintenanceRecurrence.objects.exists() and not MaintenanceWindow.objects.exists()


def test_viewers_read_and_responders_write(api, cast) -> None:
    assert create(api, cast).status_code == 201
    assert api.as_(cast.viewer).get("/api/v1/maintenance-recurrences/").status_code == 200
    body = {"title": "x", "services": ["api"], "rule": "FREQ=DAILY", "first_start": "2030-01-01T00:00:00Z", "duration": "01:00:00"}
    assert api.as_(cast.viewer).post("/api/v1/maintenance-recurrences/", body, format="json").status_code == 403
    recurrence = MaintenanceRecurrence.objects.get()
    assert api.as_(cast.viewer).delete(f"/api/v1/maintenance-recurrences/{recurrence.pk}/").status_code == 403
    windows = MaintenanceWindow.objects.count()
    assert api.as_(cast.responder).delete(f"/api/v1/maintenance-recurrences/{recurrence.pk}/").status_code == 204
    assert MaintenanceWindow.objects.count() == windows  # materialised windows stay
