"""The hot read serializers build their dicts by hand (incidents.api.serializers);
their output must be byte-for-byte what DRF's generic per-field path produces
from the same declared fields, and the list's plain rows (selectors) the same."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.renderers import JSONRenderer

from incidents import selectors, services
from incidents.api import serializers as s
from portal.tests.factories import ServiceFactory, declare

pytestmark = pytest.mark.django_db


def generic(serializer: Any, instance: Any) -> Any:
    """DRF's Serializer.to_representation, applied all the way down, so that no
    hand-built `to_representation` (here or nested) takes part."""
    if isinstance(serializer, serializers.ListSerializer):
        items = instance.all() if hasattr(instance, "all") else instance
        return [generic(serializer.child, item) for item in items]
    out: dict[str | None, Any] = {}
    for field in serializer._readable_fields:
        try:
            attribute = field.get_attribute(instance)
        except SkipField:
            continue
        check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
        if check is None:
            out[field.field_name] = None
        elif isinstance(field, serializers.BaseSerializer):
            out[field.field_name] = generic(field, attribute)
        else:
            out[field.field_name] = field.to_representation(attribute)
    return out


def as_bytes(value: Any) -> bytes:
    return JSONRenderer().render(value)


@pytest.fixture
def incidents(cast: Any) -> list[Any]:
    web = ServiceFactory.create(slug="web", name="Web")
    full = declare(
        by=cast.owner, title="Checkout <errors> ünïcode", sev="SEV1", visibility="public", commander=cast.responder,
        impacts={cast.service: "major_outage", web: "degraded_performance"}, tags=["payments", "db"],
        summary="Line one\nline two",
    )  # fmt: skip
    services.incident_change_status(incident=full, status="identified", by=cast.owner, note="Found it")
    services.incident_change_status(incident=full, status="resolved", by=cast.owner)
    bare = declare(by=None, title="Quiet", sev="SEV4")  # no commander, impacts, tags or acknowledgement
    return [selectors.incident_detail_qs().get(pk=full.pk), selectors.incident_detail_qs().get(pk=bare.pk)]


def test_the_incident_list_and_detail_output_is_the_generic_output(incidents: list[Any]) -> None:
    for incident in incidents:
        for serializer_class in (s.IncidentListSerializer, s.IncidentDetailSerializer):
            hand = serializer_class(incident).data
            assert as_bytes(hand) == as_bytes(generic(serializer_class(), incident)), serializer_class.__name__


def test_the_list_rows_are_the_list_serializers_output(incidents: list[Any]) -> None:
    rows = selectors.incident_list_rows(list(selectors.incident_list_values().order_by("-id")))
    by_serializer = [s.IncidentListSerializer(i).data for i in sorted(incidents, key=lambda i: -i.pk)]
    assert as_bytes(rows) == as_bytes(by_serializer)


def test_timeline_events_are_the_generic_output(incidents: list[Any]) -> None:
    events = list(selectors.timeline_qs(incidents[0].pk)) + list(selectors.timeline_qs(incidents[1].pk))
    assert any(e.author is None for e in events) and any(e.author is not None for e in events)
    for event in events:
        assert as_bytes(s.TimelineEventSerializer(event).data) == as_bytes(generic(s.TimelineEventSerializer(), event))


def test_the_detail_data_is_the_detail_serializers_output(incidents: list[Any], cast: Any) -> None:
    # Two commanders' hand-over and a second role: roles come ordered and only current ones.
    services.incident_assign_role(incident=incidents[0], role="scribe", user=cast.owner, by=cast.owner)
    services.incident_assign_role(incident=incidents[0], role="commander", user=cast.owner, by=cast.owner)
    for incident in incidents:
        fresh = selectors.incident_detail_qs().get(pk=incident.pk)
        data = selectors.incident_detail_data(incident.pk)
        assert as_bytes(data) == as_bytes(s.IncidentDetailSerializer(fresh).data)
        assert as_bytes(data) == as_bytes(generic(s.IncidentDetailSerializer(), fresh))
    assert [r["role"] for r in selectors.incident_detail_data(incidents[0].pk)["roles"]] == ["commander", "scribe"]  # type: ignore[index]
    assert selectors.incident_detail_data(10**9) is None
