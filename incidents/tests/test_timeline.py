from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from incidents.models import TimelineEvent
from incidents.models.incident import ImmutableTimelineError
from incidents.services import incident_add_note, timeline_set_pinned
from portal.tests.factories import declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def note(cast):
    incident = declare(by=cast.responder)
    return incident_add_note(incident=incident, body="Rolled back the deploy", by=cast.responder)


def test_an_event_cannot_be_edited(note: TimelineEvent) -> None:
    note.body = "rewritten history"
    with pytest.raises(ImmutableTimelineError):
        note.save()
    with pytest.raises(ImmutableTimelineError):
        TimelineEvent.objects.filter(pk=note.pk).update(body="rewritten")
    note.refresh_from_db()
    assert note.body == "Rolled back the deploy"


def test_an_event_cannot_be_deleted(note: TimelineEvent) -> None:
    with pytest.raises(ImmutableTimelineError):
        note.delete()
    with pytest.raises(ImmutableTimelineError):
        TimelineEvent.objects.filter(pk=note.pk).delete()
    assert TimelineEvent.objects.filter(pk=note.pk).exists()


def test_only_the_pinned_flag_changes(cast, note: TimelineEvent) -> None:
    pinned = timeline_set_pinned(event=note, pinned=True, by=cast.responder)
    assert pinned.pinned is True
    assert TimelineEvent.objects.get(pk=note.pk).pinned is True


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL; SQLite relies on the model guard")
def test_postgresql_refuses_raw_sql_that_rewrites_history(note: TimelineEvent) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE incidents_timelineevent SET body = 'x' WHERE id = %s", [note.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM incidents_timelineevent WHERE id = %s", [note.pk])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE incidents_timelineevent SET pinned = true WHERE id = %s", [note.pk])
    assert TimelineEvent.objects.get(pk=note.pk).body == "Rolled back the deploy"


def test_several_events_are_recorded_at_once_and_bad_kinds_refused(cast) -> None:
    from incidents.services import incident_record_events
    from portal.errors import ValidationFailed

    incident = declare(by=cast.responder)
    created = incident_record_events(
        incident=incident, entries=[("alert", "Alert firing: a", {"alert_id": 1}), ("alert", "Alert firing: b", {"alert_id": 2})]
    )
    assert [e.body for e in created] == ["Alert firing: a", "Alert firing: b"] and all(e.pk for e in created)
    assert TimelineEvent.objects.filter(incident=incident, kind="alert").count() == 2
    with pytest.raises(ValidationFailed):
        incident_record_events(incident=incident, entries=[("alert", "x", {}), ("gossip", "y", {})])
    assert TimelineEvent.objects.filter(incident=incident, kind="alert").count() == 2
