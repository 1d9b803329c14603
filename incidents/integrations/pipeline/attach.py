"""Stage 4, attach: a group's alerts onto its incident.

One group key has at most one open incident (a partial unique constraint on
`AlertGroup`): a firing alert appends to it, reopens the last one (within the
reopen window, or when the sender says so), or declares a new one. Every alert
that fires, and every acknowledgement at the source, is a line on the incident's
timeline. Once every alert of the group has resolved, the incident moves on as the
integration's resolve policy says. A sample (a test delivery) resolves itself.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.integrations import severities
from incidents.integrations.common import Signal
from incidents.integrations.pipeline.decide import ANNOTATE, PRIORITY, Route, severity_for
from incidents.integrations.pipeline.plan import Plan
from incidents.integrations.redaction import redact_mapping
from incidents.models import (
    Alert,
    AlertGroup,
    AlertStatus,
    Incident,
    IncidentStatus,
    Integration,
    ResolvePolicy,
    Service,
    Severity,
    TimelineKind,
)
from incidents.services import (
    incident_change_severity,
    incident_change_status,
    incident_declare,
    incident_record_event,
    incident_record_events,
)

SAMPLE_TAG = "test"


def attach(integration: Integration, plan: Plan, route: Route) -> None:
    """Carry a declaring group's plan onto its incident."""
    if plan.fired:
        _attach_fired(integration, plan, route)
    for alert, _signal in plan.acked:
        if alert.incident_id:
            incident_record_event(
                incident=alert.incident_id,
                kind=TimelineKind.ALERT,
                body=f"Alert acknowledged at the source: {alert.title}",
                details={"alert_id": alert.pk, "status": "acknowledged", "integration": integration.name},
            )
    for alert, signal, action in plan.incident_actions:
        _incident_action(integration, alert, signal, action)
    if plan.resolved:
        _resolve_when_clear(integration, plan.group_key)
    if plan.delivery.is_test and plan.fired:
        _close_sample(integration, plan.group_key, [alert.pk for alert, _ in plan.fired])


def _attach_fired(integration: Integration, plan: Plan, route: Route) -> None:
    fired = plan.fired
    # The earliest alert names the incident, whatever order the payload lists them in.
    first = min(fired, key=lambda pair: (pair[1].occurred_at, pair[1].fingerprint))[1]
    incident, how = open_group_incident(
        integration,
        plan.group_key,
        first,
        route,
        force_reopen=any(s.action == "reopen" for _, s in fired),
        test=plan.delivery.is_test,
    )
    if how == "existing" and incident.status == IncidentStatus.MONITORING:
        incident = incident_change_status(
            incident=incident,
            status=IncidentStatus.INVESTIGATING,
            by=None,
            reason="An alert of the group fired again.",
        )
    choice = severity_for(integration, first)
    if how == "existing" and choice.severity.rank < incident.severity.rank:
        reason = f"Alert: {first.title}. {choice.why}" if choice.why else f"Alert: {first.title}"
        incident = incident_change_severity(
            incident=incident, severity=choice.severity, by=None, reason=reason[:500]
        )
    Alert.objects.filter(pk__in=[alert.pk for alert, _ in fired]).update(incident=incident)
    for alert, _signal in fired:
        alert.incident = incident
    incident_record_events(
        incident=incident,
        entries=[
            (TimelineKind.ALERT, f"Alert firing: {signal.title}",
             {"alert_id": alert.pk, "fingerprint": alert.fingerprint, "integration": integration.name,
              "status": "firing", "starts_at": signal.occurred_at.isoformat(), "labels": redact_mapping(signal.labels)})
            for alert, signal in fired
        ],
    )  # fmt: skip


def open_group_incident(
    integration: Integration,
    group_key: str,
    signal: Signal,
    route: Route,
    *,
    force_reopen: bool,
    test: bool = False,
) -> tuple[Incident, str]:
    """The open incident of a group key: the existing one, the last one reopened
    (within the reopen window, or when the sender says so), or a new one."""
    now = timezone.now()
    group = (
        AlertGroup.objects.select_for_update()
        .select_related("incident")
        .filter(integration=integration, group_key=group_key, is_open=True)
        .first()
    )
    if group is not None:
        if group.incident.status != IncidentStatus.RESOLVED:
            return group.incident, "existing"
        # Resolved by a person in the portal: the group closes with it.
        AlertGroup.objects.filter(pk=group.pk).update(
            is_open=False, closed_at=group.incident.resolved_at or now
        )
    last = (
        AlertGroup.objects.select_related("incident")
        .filter(integration=integration, group_key=group_key, is_open=False)
        .order_by("-id")
        .first()
    )
    if last is not None and last.incident.status == IncidentStatus.RESOLVED:
        resolved_at = last.incident.resolved_at
        if force_reopen or (resolved_at is not None and now - resolved_at <= integration.reopen_window):
            try:
                with transaction.atomic():
                    AlertGroup.objects.filter(pk=last.pk).update(is_open=True, closed_at=None)
                    incident = incident_change_status(
                        incident=last.incident_id,
                        status=IncidentStatus.INVESTIGATING,
                        by=None,
                        reason=f"Alert fired again: {signal.title}"[:500],
                    )
                return incident, "reopened"
            except IntegrityError as exc:
                return _reread_open_group(integration, group_key, exc), "existing"
    return _declare(integration, group_key, signal, route, now=now, test=test)


def _declare(
    integration: Integration, group_key: str, signal: Signal, route: Route, *, now: datetime, test: bool
) -> tuple[Incident, str]:
    services = {s.slug: s for s in Service.objects.filter(slug__in=route.services)}
    started = min(signal.starts_at or signal.occurred_at, now)
    choice = severity_for(integration, signal)
    title, summary, tags = (
        signal.title or "Alert",
        f"Opened by the {integration.name} integration ({integration.get_kind_display()}).",
        [],
    )
    if test:
        choice = severities.Choice(_sample_severity(choice.severity), "")
        title, tags = f"Test: {title}", [SAMPLE_TAG]
        summary = f"A sample sent from the page of the {integration.name} integration: it never pages and resolves itself."
    try:
        with transaction.atomic():
            incident = incident_declare(
                title=title[:200],
                severity=choice.severity,
                by=None,
                summary=summary,
                impacts={services[slug]: route.impact for slug in route.services if slug in services},
                started_at=started,
                tags=tags,
            )
            AlertGroup.objects.create(integration=integration, group_key=group_key, incident=incident)
            if choice.why:
                incident_record_event(
                    incident=incident, kind=TimelineKind.ALERT, body=choice.why,
                    details={"severity": choice.severity.name, "integration": integration.name, "fallback": True},
                )  # fmt: skip
        return incident, "declared"
    except IntegrityError as exc:
        # Another worker opened the group's incident first; its row is the one to use.
        return _reread_open_group(integration, group_key, exc), "existing"


def _reread_open_group(integration: Integration, group_key: str, conflict: IntegrityError) -> Incident:
    group = (
        AlertGroup.objects.select_for_update()
        .select_related("incident")
        .filter(integration=integration, group_key=group_key, is_open=True)
        .first()
    )
    if group is None:
        # The conflict was not the group constraint: let the error through.
        raise conflict
    return group.incident


def _incident_action(integration: Integration, alert: Alert, signal: Signal, action: str) -> None:
    if alert.incident_id is None:
        return
    incident = Incident.objects.filter(pk=alert.incident_id).select_related("severity").first()
    if incident is None:
        return
    if action == ANNOTATE and signal.note:
        incident_record_event(
            incident=incident,
            kind=TimelineKind.ALERT,
            body=f"Note from {integration.name}: {signal.note}"[:20_000],
            details={"alert_id": alert.pk, "event_id": signal.event_id},
        )
    elif action == PRIORITY and incident.is_open:
        choice = severity_for(integration, signal)
        if choice.severity.pk != incident.severity_id:
            reason = f"Priority changed at the source to {signal.severity or 'none'}. {choice.why}".strip()
            incident_change_severity(
                incident=incident, severity=choice.severity, by=None, reason=reason[:500]
            )


def _resolve_when_clear(integration: Integration, group_key: str) -> None:
    """When every alert of the group has resolved, move its incident on, as the policy says."""
    group = (
        AlertGroup.objects.select_for_update()
        .select_related("incident")
        .filter(integration=integration, group_key=group_key, is_open=True)
        .first()
    )
    if group is None:
        return
    if (
        Alert.objects.filter(integration=integration, group_key=group_key)
        .exclude(status=AlertStatus.RESOLVED)
        .exists()
    ):
        return
    incident = group.incident
    note = "Every alert of the group has resolved."
    if incident.status == IncidentStatus.RESOLVED:
        AlertGroup.objects.filter(pk=group.pk).update(
            is_open=False, closed_at=incident.resolved_at or timezone.now()
        )
    elif integration.resolve_policy == ResolvePolicy.RESOLVE:
        incident_change_status(incident=incident, status=IncidentStatus.RESOLVED, by=None, note=note)
        AlertGroup.objects.filter(pk=group.pk).update(is_open=False, closed_at=timezone.now())
    elif incident.status != IncidentStatus.MONITORING:
        incident_change_status(incident=incident, status=IncidentStatus.MONITORING, by=None, note=note)


def _sample_severity(chosen: Severity) -> Severity:
    """A sample's incident takes the least severe severity that does not page (the
    mapped one if none is left that does not)."""
    return Severity.objects.filter(pages=False).order_by("-rank").first() or chosen


def _close_sample(integration: Integration, group_key: str, alert_ids: list[int]) -> None:
    """A sample resolves itself once it has shown the way through the pipeline:
    its alerts resolve, its incident resolves, its group closes."""
    now = timezone.now()
    Alert.objects.filter(pk__in=alert_ids).exclude(status=AlertStatus.RESOLVED).update(
        status=AlertStatus.RESOLVED, ends_at=now, last_transition_at=now
    )
    group = (
        AlertGroup.objects.select_for_update()
        .filter(integration=integration, group_key=group_key, is_open=True)
        .first()
    )
    if group is None:
        return
    if Incident.objects.filter(pk=group.incident_id).exclude(status=IncidentStatus.RESOLVED).exists():
        incident_change_status(
            incident=group.incident_id,
            status=IncidentStatus.RESOLVED,
            by=None,
            note="A sample resolves itself.",
        )
    AlertGroup.objects.filter(pk=group.pk).update(is_open=False, closed_at=now)
