"""Flow 2: configure, schedule, run, apply; the state machine's effects on incidents
and on the service's observed status, through the incident core only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from health import services, tasks
from health.models import Heartbeat, Location, Probe, ProbeResult, ProbeState
from health.tests.servers import HealthServer, free_port
from incidents.integrations.pipeline.process import delivery_process
from incidents.models import Alert, Delivery, Impact, Incident, IncidentStatus, MaintenanceStatus
from incidents.selectors import service_statuses
from incidents.services import maintenance_change_status, maintenance_schedule
from portal.errors import ValidationFailed
from portal.tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def process_pending() -> int:
    """What the alerts queue's worker does with the deliveries the probes stored."""
    ids = list(Delivery.objects.filter(status="pending").order_by("pk").values_list("pk", flat=True))
    for pk in ids:
        delivery_process(delivery_id=pk)
    return len(ids)


def tick(probe: Probe, location: Location | None = None, *, at: Any = None) -> None:
    """One scheduled run of `probe` from `location`, `at` a given scheduled time."""
    tick.clock = getattr(tick, "clock", timezone.now()) + timedelta(seconds=1)  # type: ignore[attr-defined]
    tasks.run_locally(location or services.default_location(), [(probe.pk, at or tick.clock)])  # type: ignore[attr-defined]


def http_probe(server: HealthServer, **fields: Any) -> Probe:
    service = fields.pop("service", None) or ServiceFactory(slug="checkout", name="Checkout")
    defaults: dict[str, Any] = {
        "service": service, "name": "Checkout health", "kind": "http", "target": {"url": f"{server.url}/health"},
        "conditions": ["[STATUS] == 200", 'degraded: [BODY].status == "healthy"'], "timeout_seconds": 2.0,
        "failure_threshold": 2, "success_threshold": 2, "policy": "declare", "severity": "SEV2",
    }  # fmt: skip
    defaults.update(fields)
    return services.probe_create(by=None, **defaults)


# --- Configuration -------------------------------------------------------------------------


def test_saving_checks_conditions_and_points_at_the_mistake(server: HealthServer) -> None:
    with pytest.raises(ValidationFailed) as caught:
        http_probe(server, conditions=["[STATUS] == 200", "[BODY].status = healthy", "[ROLE] == master"], quorum=2)
    fields = caught.value.fields
    assert fields["conditions.1"] == ["'[BODY].status = healthy': column 15: Expected an operator: == != <= >= < > contains."]
    assert fields["conditions.2"][0].startswith("'[ROLE] == master': column 1: [ROLE] is not produced by this kind of probe")
    assert fields["quorum"] == ["At most the number of locations (1)."]
    assert Probe.objects.count() == 0


def test_each_kind_validates_its_target(server: HealthServer) -> None:
    with pytest.raises(ValidationFailed) as caught:
        http_probe(server, target={"url": "ftp://example.com/"}, credentials={"password": "x"}, timeout_seconds=120, interval_seconds=30)
    assert set(caught.value.fields) == {"target.url", "credentials", "timeout_seconds"}
    with pytest.raises(ValidationFailed) as caught:
        http_probe(server, kind="postgres", target={"host": "db", "port": 70000}, conditions=[])
    assert caught.value.fields == {"target.port": ["A port between 1 and 65535 is required."]}
    with pytest.raises(ValidationFailed) as caught:
        http_probe(server, kind="kubernetes", target={"namespace": "shop", "name": "api", "context": "prod"},
                   credentials={"kubeconfig": server.kubeconfig()}, conditions=[])  # fmt: skip
    assert caught.value.fields == {"target.context": ["No context 'prod' in the kubeconfig (it has stub)."]}


def test_credentials_merge_and_are_kept_apart(server: HealthServer) -> None:
    probe = http_probe(server, kind="postgres", target={"host": "127.0.0.1", "port": 5432}, credentials={"password": "one"}, conditions=[])
    probe = services.probe_update(probe=probe, by=None, name="Orders database")
    assert probe.credentials == {"password": "one"}
    probe = services.probe_update(probe=probe, by=None, credentials={"password": "two"})
    assert probe.credentials == {"password": "two"}
    probe = services.probe_update(probe=probe, by=None, credentials={"password": None})
    assert probe.credentials == {}


# --- Schedule ------------------------------------------------------------------------------


def test_beat_claims_due_probes_once_per_location(server: HealthServer) -> None:
    services.location_create(name="eu-west")
    probe = http_probe(server, interval_seconds=30, locations=["local", "eu-west"], quorum=2)
    now = timezone.now()
    due = tasks.claim_due(now=now)
    assert {name: [pk for pk, _when, _i in items] for name, items in due.items()} == {"local": [probe.pk], "eu-west": [probe.pk]}
    assert tasks.claim_due(now=now) == {}  # claimed: not due again
    probe.refresh_from_db()
    assert now + timedelta(seconds=29) < probe.next_run_at <= now + timedelta(seconds=30)
    assert tasks.claim_due(now=now + timedelta(seconds=31))["local"][0][0] == probe.pk


def test_a_batch_applied_twice_changes_nothing(server: HealthServer) -> None:
    probe = http_probe(server)
    at = timezone.now()
    location = services.default_location()
    tasks.run_locally(location, [(probe.pk, at)])
    tasks.run_locally(location, [(probe.pk, at)])
    assert ProbeResult.objects.filter(probe=probe).count() == 1
    state = ProbeState.objects.get(probe=probe)
    assert (state.last_outcome, state.successes, state.same) == ("up", 1, 1)


# --- Effects -------------------------------------------------------------------------------


def test_an_outage_opens_an_incident_and_recovery_resolves_it(server: HealthServer) -> None:
    probe = http_probe(server)
    tick(probe)
    tick(probe)
    probe.refresh_from_db()
    assert probe.status == "up"
    assert service_statuses([probe.service_id]).get(probe.service_id, Impact.OPERATIONAL) == Impact.OPERATIONAL

    server.mode = "error"
    tick(probe)
    probe.refresh_from_db()
    assert probe.status == "up"  # one failure is below the threshold
    tick(probe)
    probe.refresh_from_db()
    assert probe.status == "down"
    assert process_pending() == 1
    incident = Incident.objects.get()
    assert incident.severity.name == "SEV2" and incident.status == IncidentStatus.INVESTIGATING
    assert incident.title == "Checkout: Checkout health is down"
    assert list(incident.impacts.values_list("service__slug", "impact")) == [("checkout", Impact.MAJOR_OUTAGE)]
    assert service_statuses([probe.service_id])[probe.service_id] == Impact.MAJOR_OUTAGE

    tick(probe)  # still down: nothing more is sent
    assert process_pending() == 0

    server.mode = "healthy"
    tick(probe)
    tick(probe)
    probe.refresh_from_db()
    assert probe.status == "up"
    assert process_pending() == 1
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    alert = Alert.objects.get()
    assert alert.fingerprint == f"probe-{probe.pk}" and alert.status == "resolved"
    assert probe.service.__class__.objects.get(pk=probe.service_id).observed_status == Impact.OPERATIONAL


def test_a_degraded_document_degrades_the_service(server: HealthServer) -> None:
    probe = http_probe(server, policy="record")
    server.mode = "degraded"
    tick(probe)
    tick(probe)
    probe.refresh_from_db()
    assert probe.status == "degraded"
    assert service_statuses([probe.service_id])[probe.service_id] == Impact.DEGRADED_PERFORMANCE
    assert process_pending() == 0 and not Incident.objects.exists()  # record only
    result = ProbeResult.objects.filter(probe=probe).latest("started_at")
    assert [(e["condition"], e["ok"]) for e in result.evaluations] == [("[STATUS] == 200", True), ('degraded: [BODY].status == "healthy"', False)]


def test_the_alert_policy_raises_an_alert_without_an_incident(server: HealthServer) -> None:
    probe = http_probe(server, policy="alert", severity="")
    server.mode = "error"
    tick(probe)
    tick(probe)
    assert process_pending() == 1
    assert Alert.objects.get().status == "firing"
    assert not Incident.objects.exists()


def test_monitoring_on_recovery(server: HealthServer) -> None:
    probe = http_probe(server, on_recovery="monitoring")
    server.mode = "error"
    tick(probe)
    tick(probe)
    process_pending()
    server.mode = "healthy"
    tick(probe)
    tick(probe)
    process_pending()
    assert Incident.objects.get().status == IncidentStatus.MONITORING


def test_maintenance_holds_the_incident_back_until_it_ends(server: HealthServer) -> None:
    probe = http_probe(server)
    window = maintenance_schedule(
        title="Database upgrade", scheduled_start=timezone.now() - timedelta(minutes=5),
        scheduled_end=timezone.now() + timedelta(hours=1), services=[probe.service], by=None,
    )  # fmt: skip
    maintenance_change_status(window=window, status=MaintenanceStatus.IN_PROGRESS, by=None)
    server.mode = "error"
    tick(probe)
    tick(probe)
    probe.refresh_from_db()
    assert probe.status == "down" and probe.signalled_status == "pending"
    assert process_pending() == 0
    assert service_statuses([probe.service_id])[probe.service_id] == Impact.UNDER_MAINTENANCE
    assert tasks.settle_held() == 1 and process_pending() == 0  # still in maintenance

    maintenance_change_status(window=window, status=MaintenanceStatus.COMPLETED, by=None)
    tasks.settle_held()
    assert process_pending() == 1
    assert Incident.objects.get().status == IncidentStatus.INVESTIGATING
    assert service_statuses([probe.service_id])[probe.service_id] == Impact.MAJOR_OUTAGE


def test_two_locations_and_a_quorum(server: HealthServer) -> None:
    east = services.location_create(name="eu-east")
    west = services.location_create(name="eu-west")
    probe = http_probe(server, locations=["eu-east", "eu-west"], quorum=2, failure_threshold=1, success_threshold=1)
    tick(probe, east)
    tick(probe, west)
    server.mode = "error"
    tick(probe, east)
    probe.refresh_from_db()
    assert probe.status == "up"  # one location of two says down: no quorum
    tick(probe, west)
    probe.refresh_from_db()
    assert probe.status == "down"
    states = dict(ProbeState.objects.filter(probe=probe).values_list("location__name", "status"))
    assert states == {"eu-east": "down", "eu-west": "down"}


def test_a_prober_failing_its_self_check_reads_as_no_data(server: HealthServer) -> None:
    broken = services.location_create(name="broken", self_check=f"tcp://127.0.0.1:{free_port()}")
    probe = http_probe(server, locations=["broken"], failure_threshold=1)
    server.mode = "error"
    tick(probe, broken)
    probe.refresh_from_db()
    assert probe.status == "no_data"
    assert ProbeResult.objects.get().outcome == "no_data"
    assert server.requests == []
    assert Location.objects.get(name="broken").last_self_check_ok is False
    assert process_pending() == 0


def test_heartbeats(server: HealthServer) -> None:
    probe = http_probe(server, kind="heartbeat", target={"grace_seconds": 30}, conditions=[], interval_seconds=3600,
                       failure_threshold=1, success_threshold=1)  # fmt: skip
    token = probe.new_heartbeat_token  # type: ignore[attr-defined]  # set by probe_create, this once
    heartbeat = Heartbeat.objects.get(probe=probe)
    assert heartbeat.token_hash != token and token.startswith(heartbeat.token_hint)
    now = timezone.now()
    tick(probe, at=now)
    probe.refresh_from_db()
    assert probe.status == "up"  # within the first interval
    assert services.heartbeat_ping(token=token, ok=False, message="backup failed: disk full") is not None
    tick(probe, at=now + timedelta(seconds=1))
    result = ProbeResult.objects.filter(probe=probe).latest("started_at")
    assert result.outcome == "down" and result.message == "The last call reported a failure. backup failed: disk full"
    services.heartbeat_ping(token=token)
    tick(probe, at=now + timedelta(seconds=2))
    probe.refresh_from_db()
    assert probe.status == "up"
    tick(probe, at=now + timedelta(seconds=3600 + 30 + 3))  # the interval and the grace have passed
    probe.refresh_from_db()
    assert probe.status == "down"
    assert ProbeResult.objects.filter(probe=probe).latest("started_at").message.startswith("No call since ")
    assert services.heartbeat_ping(token="nope") is None


def test_deleting_a_probe_resolves_its_alert(server: HealthServer) -> None:
    probe = http_probe(server)
    server.mode = "error"
    tick(probe)
    tick(probe)
    process_pending()
    services.probe_delete(probe=probe, by=None)
    process_pending()
    assert Incident.objects.get().status == IncidentStatus.RESOLVED
    assert probe.service.__class__.objects.get(slug="checkout").observed_status == ""
