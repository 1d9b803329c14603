"""Reads for the integration and alert pages, the war room and the dashboard."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from incidents.integrations.pipeline.registry import adapter_for
from incidents.models import Alert, AlertEvent, AlertStatus, Delivery, Integration


def integration_list_qs() -> QuerySet[Integration]:
    return Integration.objects.annotate(
        firing_count=Count("alerts", filter=~Q(alerts__status=AlertStatus.RESOLVED), distinct=True),
        failed_count=Count("deliveries", filter=Q(deliveries__status="failed"), distinct=True),
    ).order_by("name", "id")


def integration_deliveries(integration: Integration, limit: int = 25) -> list[Delivery]:
    return list(Delivery.objects.filter(integration=integration).order_by("-id")[:limit])


def delivery_list_qs(integration: Integration, *, status: str = "") -> QuerySet[Delivery]:
    """The API's deliveries of an integration, newest first (delivery_integration_idx)."""
    qs = Delivery.objects.filter(integration=integration)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def alert_list_qs(
    *, status: str = "", integration_id: int | None = None, severity: str = "", q: str = "", incident_id: int | None = None
) -> QuerySet[Alert]:
    qs = Alert.objects.select_related("integration", "incident")
    if status == "open":
        qs = qs.exclude(status=AlertStatus.RESOLVED)
    elif status in AlertStatus.values:
        qs = qs.filter(status=status)
    if integration_id:
        qs = qs.filter(integration_id=integration_id)
    if severity:
        qs = qs.filter(severity=severity)
    if incident_id:
        qs = qs.filter(incident_id=incident_id)
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(fingerprint=q))
    return qs.order_by("-last_received_at", "-id")


def alert_fields(integration: Integration, limit: int = 20) -> list[str]:
    """Field names the editor suggests: the common ones of the kind, and the labels
    seen on this integration's latest alerts."""
    seen: set[str] = {"severity", "title", "status"}
    for labels in Alert.objects.filter(integration=integration).order_by("-id").values_list("labels", flat=True)[:limit]:
        if isinstance(labels, dict):
            seen.update(f"labels.{name}" for name in labels)
    seen.update(adapter_for(integration.kind).suggested_fields)
    return sorted(seen)


def alert_severities() -> list[str]:
    """The severities alerts arrived with, for the alerts page's filter."""
    # Distinct over the column the (severity) filter already reads; a handful of values.
    return sorted(set(Alert.objects.exclude(severity="").values_list("severity", flat=True).distinct()))


def alert_detail_qs() -> QuerySet[Alert]:
    return Alert.objects.select_related("integration", "incident", "last_delivery").prefetch_related(
        Prefetch("events", queryset=AlertEvent.objects.select_related("delivery").order_by("-occurred_at", "-id"))
    )


def alert_deliveries(alert: Alert, limit: int = 20) -> list[Delivery]:
    """The raw payloads that touched an alert: those with a recorded transition, and the last one."""
    ids = set(AlertEvent.objects.filter(alert=alert, delivery__isnull=False).values_list("delivery_id", flat=True)[:limit])
    if alert.last_delivery_id:
        ids.add(alert.last_delivery_id)
    return list(Delivery.objects.filter(pk__in=ids).order_by("-id"))


def incident_alerts(incident_id: int) -> list[Alert]:
    """The war room's alerts: firing ones first."""
    alerts = list(Alert.objects.filter(incident_id=incident_id).select_related("integration")[:200])
    alerts.sort(key=lambda a: (a.status == AlertStatus.RESOLVED, -a.last_received_at.timestamp()))
    return alerts


def recent_alerts(limit: int = 10) -> list[Alert]:
    return list(Alert.objects.select_related("integration", "incident").order_by("-last_received_at", "-id")[:limit])
