from __future__ import annotations

from datetime import UTC, datetime

import time_machine

from incidents.models import ContactMethod, Escalation, EscalationPolicy, NotificationRule, ScheduleLayer
from incidents.oncall import paging
from incidents.oncall.acklink import ack_token
from portal.tests.factories import ApiClientFactory, declare

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def test_managers_build_a_schedule_and_anyone_asks_who_is_on_call_across_dst(cast, api) -> None:
    owner = api.as_(cast.owner)
    assert owner.post("/api/v1/schedules/", {"slug": "eu", "name": "EU primary", "time_zone": "Europe/Berlin"}, format="json").status_code == 201
    layer = owner.post("/api/v1/schedule-layers/", {
        "schedule": "eu", "name": "Daily", "rotation": "daily", "rotation_start": "2026-03-27T09:00:00+01:00",
        "members": ["owner", "responder"],
    }, format="json")
    assert layer.status_code == 201, layer.json()
    viewer = api.as_(cast.viewer)
    who = viewer.get("/api/v1/schedules/eu/on-call/", {"at": "2026-03-29T07:00:00Z"}).json()  # 09:00 CEST
    assert who["user"]["username"] == "owner"
    assert viewer.get("/api/v1/schedules/eu/on-call/", {"at": "2026-03-29T06:59:00Z"}).json()["user"]["username"] == "responder"
    shifts = viewer.get("/api/v1/schedules/eu/shifts/", {"start": "2026-03-28T08:00:00Z", "end": "2026-03-30T07:00:00Z"}).json()
    assert [(x["user"]["username"], x["start"], x["end"]) for x in shifts] == [
        ("responder", "2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z"), ("owner", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"),
    ]
    assert viewer.post("/api/v1/schedules/", {"slug": "x", "name": "x"}, format="json").status_code == 403
    bad = owner.post("/api/v1/schedules/", {"slug": "y", "name": "y", "time_zone": "Mars/Olympus"}, format="json")
    assert bad.status_code == 400 and "time_zone" in bad.json()["error"]["fields"]
    bad_at = viewer.get("/api/v1/schedules/eu/on-call/", {"at": "yesterday"})
    assert bad_at.status_code == 400 and bad_at.json()["error"]["code"] == "validation_failed"
    custom = owner.post("/api/v1/schedule-layers/", {"schedule": "eu", "rotation": "custom", "rotation_start": "2026-03-27T09:00:00Z",
                                                    "members": ["ghost"]}, format="json")
    assert custom.status_code == 400 and set(custom.json()["error"]["fields"]) >= {"members"}
    override = api.as_(cast.responder).post("/api/v1/schedules/eu/overrides/", {
        "user": "viewer", "starts_at": "2026-03-29T06:00:00Z", "ends_at": "2026-03-29T08:00:00Z"}, format="json")
    assert override.status_code == 201
    assert viewer.get("/api/v1/schedules/eu/on-call/", {"at": "2026-03-29T07:30:00Z"}).json()["user"]["username"] == "viewer"
    assert ScheduleLayer.objects.get(name="Daily").members.count() == 2


def test_policies_are_written_with_their_steps_and_validated(cast, api) -> None:
    owner = api.as_(cast.owner)
    owner.post("/api/v1/schedules/", {"slug": "eu", "name": "EU"}, format="json")
    made = owner.post("/api/v1/escalation-policies/", {
        "slug": "api", "name": "API", "repeat": 2, "services": ["api"],
        "steps": [{"delay_minutes": 5, "schedules": ["eu"]}, {"delay_minutes": 15, "users": ["owner"]}],
    }, format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["steps"] == [{"delay_minutes": 5, "users": [], "schedules": ["eu"], "teams": []},
                                    {"delay_minutes": 15, "users": ["owner"], "schedules": [], "teams": []}]
    empty = owner.post("/api/v1/escalation-policies/", {"slug": "e", "name": "E", "steps": [{"delay_minutes": 5}]}, format="json")
    assert empty.status_code == 400 and "steps" in empty.json()["error"]["fields"]
    replaced = owner.patch("/api/v1/escalation-policies/api/", {"steps": [{"users": ["responder"]}]}, format="json")
    assert replaced.status_code == 200 and EscalationPolicy.objects.get(slug="api").steps.count() == 1


def test_people_keep_their_own_contact_methods_and_rules_and_unsafe_urls_are_refused(cast, api) -> None:
    me = api.as_(cast.viewer)
    made = me.post("/api/v1/contact-methods/", {"kind": "slack", "target": "https://hooks.slack.com/services/T/B/X"}, format="json")
    assert made.status_code == 201
    assert me.post("/api/v1/notification-rules/", {"contact_method": made.json()["id"], "delay_minutes": 2}, format="json").status_code == 201
    metadata = me.post("/api/v1/contact-methods/", {"kind": "webhook", "target": "http://169.254.169.254/latest"}, format="json")
    assert metadata.status_code == 400 and metadata.json()["error"]["fields"]["target"]
    assert me.post("/api/v1/contact-methods/", {"kind": "email", "target": "not-an-address"}, format="json").status_code == 400
    other = api.as_(cast.responder)
    assert other.get("/api/v1/contact-methods/").json() == []
    stolen = other.post("/api/v1/notification-rules/", {"contact_method": made.json()["id"]}, format="json")
    assert stolen.status_code == 400
    assert NotificationRule.objects.count() == 1 and ContactMethod.objects.count() == 1


def test_acknowledge_by_link_through_the_api_and_the_delivery_log(cast, api, crew, django_capture_on_commit_callbacks) -> None:
    with time_machine.travel(T0, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            incident = declare(title="Down", sev="SEV1")
        escalation = Escalation.objects.get(incident=incident)
        paging.escalation_run_step(escalation_id=escalation.pk, step=0)
        anonymous = ApiClientFactory(cast).as_(None)
        assert anonymous.post("/api/v1/acknowledge-links/", {"token": "forged"}, format="json").status_code == 400
        with django_capture_on_commit_callbacks(execute=True):
            done = anonymous.post("/api/v1/acknowledge-links/", {"token": ack_token(incident.pk, crew["ada"].pk)}, format="json")
        assert done.status_code == 200 and done.json() == {"incident": incident.reference, "acknowledged_at": "2026-03-04T10:00:00Z"}
        again = anonymous.post("/api/v1/acknowledge-links/", {"token": ack_token(incident.pk, crew["ada"].pk)}, format="json")
        assert again.status_code == 409
    log = api.as_(cast.responder).get("/api/v1/notification-deliveries/", {"incident": incident.reference}).json()
    assert [(row["user"], row["kind"], row["state"]) for row in log["results"]] == [("ada", "email", "pending")]
    assert api.as_(cast.viewer).get("/api/v1/notification-deliveries/").status_code == 403
    paged = api.as_(cast.viewer).get("/api/v1/escalations/", {"incident": incident.reference}).json()["results"]
    assert paged[0]["state"] == "acknowledged" and paged[0]["pages"][0]["user"] == "ada"
