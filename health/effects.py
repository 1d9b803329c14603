"""What a probe's state does outside the health app, through the incident core only.

- The alert pipeline: each service's probes reach it through an internal source (a
  Generic JSON integration per service and recovery policy, `ServiceSource`). A
  probe's change is stored as a delivery like any sender's and processed by the same
  code, so grouping (one group per service), de-duplication (one alert per probe),
  policies, severity, paging and auto-resolve behave as for any alert.
- The service's observed status, through `service_set_observed_status`.

`Probe.signalled_status` is what was last sent; sending happens when it differs from
the probe's state and no maintenance window holds the service, so an effect held
back by maintenance goes out once the window ends, and sending twice sends nothing.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from health.models import OnRecovery, Outcome, Policy, Probe, ServiceSource
from incidents.integrations.pipeline.receive import delivery_store
from incidents.integrations.services import integration_create, integration_update
from incidents.integrations.severities import normalise_mapping
from incidents.models import Impact, IntegrationKind, MaintenanceStatus, ResolvePolicy, Service, Severity
from incidents.services import service_set_observed_status

log = logging.getLogger(__name__)

OBSERVED = {Outcome.UP: Impact.OPERATIONAL, Outcome.DEGRADED: Impact.DEGRADED_PERFORMANCE, Outcome.DOWN: Impact.MAJOR_OUTAGE}
FIRING_STATES = (Outcome.DOWN, Outcome.DEGRADED)
SETTLED_STATES = (Outcome.UP, Outcome.DOWN, Outcome.DEGRADED)


def in_maintenance(service_id: int) -> bool:
    return Service.maintenance_windows.through.objects.filter(
        service_id=service_id, maintenancewindow__status__in=[MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING]
    ).exists()


def _rules(service: Service) -> list[dict[str, object]]:
    return [
        {"match": {"labels.policy": Policy.ALERT}, "services": [service.slug], "action": "record"},
        {"match": {"labels.impact": Impact.MAJOR_OUTAGE}, "services": [service.slug], "impact": Impact.MAJOR_OUTAGE, "action": "declare"},
        {"match": {"labels.impact": Impact.DEGRADED_PERFORMANCE}, "services": [service.slug],
         "impact": Impact.DEGRADED_PERFORMANCE, "action": "declare"},
    ]  # fmt: skip


def _severity_mapping() -> dict[str, object]:
    """The probe's severity travels by name; the mapping is kept as stored (by key), so
    comparing it with the integration's tells whether a rename needs it updated."""
    rows = list(Severity.objects.order_by("rank").values_list("pk", "name"))
    mapping: dict[str, object] = {"field": "severity", "map": {name: pk for pk, name in rows}}
    if rows:
        mapping["default"] = rows[-1][0]
    return normalise_mapping(mapping)


def source_for(service: Service, on_recovery: str):  # type: ignore[no-untyped-def]
    """The service's internal integration for a recovery policy, created on first use
    and kept in step with the service's slug and the severity table."""
    source = ServiceSource.objects.select_related("integration").filter(service=service, on_recovery=on_recovery).first()
    if source is None:
        try:
            with transaction.atomic():
                integration, _token = integration_create(
                    kind=IntegrationKind.GENERIC_JSON,
                    name=f"Health probes: {service.name}"[:120],
                    by=None,
                    resolve_policy=ResolvePolicy.MONITORING if on_recovery == OnRecovery.MONITORING else ResolvePolicy.RESOLVE,
                    routing_rules=_rules(service),
                    severity_mapping=_severity_mapping(),
                )
                source = ServiceSource.objects.create(service=service, on_recovery=on_recovery, integration=integration)
        except IntegrityError:
            source = ServiceSource.objects.select_related("integration").get(service=service, on_recovery=on_recovery)
        return source.integration
    integration = source.integration
    mapping = _severity_mapping()
    if integration.routing_rules != _rules(service) or integration.severity_mapping != mapping:
        integration = integration_update(integration=integration, by=None, routing_rules=_rules(service), severity_mapping=mapping)
    return integration


def _send(probe: Probe, status: str) -> None:
    firing = status in FIRING_STATES
    service = Service.objects.get(pk=probe.service_id)
    severity = Severity.objects.filter(pk=probe.severity_id).first() if probe.severity_id is not None else None
    body = {
        "fingerprint": f"probe-{probe.pk}",
        "group_key": f"service-{service.pk}",
        "status": "firing" if firing else "resolved",
        "title": f"{service.name}: {probe.name} is {Outcome(status).label.lower()}"[:500],
        "severity": severity.name if severity else "",
        "occurred_at": (probe.status_changed_at or timezone.now()).isoformat(),
        "labels": {
            "source": "health-probe", "probe": str(probe.pk), "probe_name": probe.name, "kind": probe.kind,
            "service": service.slug, "policy": probe.policy, "status": status,
            "impact": Impact.DEGRADED_PERFORMANCE if status == Outcome.DEGRADED else Impact.MAJOR_OUTAGE,
        },
        "url": f"{settings.PUBLIC_URL.rstrip('/')}/health/probes/{probe.pk}/",
    }  # fmt: skip
    integration = source_for(service, probe.on_recovery)
    delivery_store(integration=integration, body=json.dumps(body), headers={"user-agent": "incident-portal-probes"})


def settle(probe: Probe, *, push_status: bool = True) -> None:
    """Bring the outside world in line with the probe's state. Call under the probe's row lock."""
    if push_status:
        push_service_status(probe.service_id)
    status = probe.status
    if status not in SETTLED_STATES or status == probe.signalled_status:
        return
    previous = probe.signalled_status
    if probe.policy == Policy.RECORD:
        Probe.objects.filter(pk=probe.pk).update(signalled_status=status)
        return
    if in_maintenance(probe.service_id):
        return  # held back; sent when the window is over (health.tasks.schedule_due)
    was_firing = previous in FIRING_STATES
    if status in FIRING_STATES or was_firing:
        _send(probe, status)
    Probe.objects.filter(pk=probe.pk).update(signalled_status=status)
    probe.signalled_status = status


def resolve_deleted(*, probe_id: int, service_id: int, on_recovery: str) -> None:
    """A deleted probe's alert resolves, as if it had recovered."""
    service = Service.objects.filter(pk=service_id).first()
    if service is None:
        return
    integration = source_for(service, on_recovery)
    body = {"fingerprint": f"probe-{probe_id}", "group_key": f"service-{service_id}", "status": "resolved",
            "occurred_at": timezone.now().isoformat(), "labels": {"source": "health-probe", "probe": str(probe_id)}}  # fmt: skip
    delivery_store(integration=integration, body=json.dumps(body), headers={"user-agent": "incident-portal-probes"})


def push_service_status(service_id: int) -> None:
    """The worst state among the service's enabled probes, as the service's observed status."""
    statuses = set(Probe.objects.filter(service_id=service_id, enabled=True).values_list("status", flat=True))
    worst = ""
    for status in (Outcome.DOWN, Outcome.DEGRADED, Outcome.UP):
        if status in statuses:
            worst = OBSERVED[status]
            break
    service_set_observed_status(service=service_id, status=worst)
