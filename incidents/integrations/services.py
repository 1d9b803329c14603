"""What managers do with integrations: create, change, rotate the token, send a
sample, retry a failed delivery (the pages, the API and configuration as code all
come through here).

How an alert becomes an incident: `incidents/integrations/pipeline/`.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import transaction

from incidents.integrations import severities
from incidents.integrations.pipeline.receive import delivery_store, enqueue
from incidents.integrations.pipeline.registry import adapter_for
from incidents.models import (
    AlertAction,
    Delivery,
    DeliveryStatus,
    Impact,
    Integration,
    IntegrationKind,
    ResolvePolicy,
    Service,
)
from portal.errors import ValidationFailed

log = logging.getLogger(__name__)


# --- Integrations ------------------------------------------------------------------


def _check_config(*, routing_rules: Any, severity_mapping: Any, group_by: Any) -> dict[str, Any]:
    """Refuse a configuration that cannot work; return the severity mapping as stored."""
    fields: dict[str, list[str]] = {}
    if not isinstance(routing_rules, list) or not all(isinstance(r, dict) and isinstance(r.get("match", {}), dict) for r in routing_rules):
        fields["routing_rules"] = ['A list of {"match": {...}, "services": [...], "impact": ..., "action": ...}.']
    else:
        for rule in routing_rules:
            for value in rule.get("match", {}).values():
                if isinstance(value, str) and value.startswith("~"):
                    try:
                        re.compile(value[1:])
                    except re.error as exc:
                        fields.setdefault("routing_rules", []).append(f"Bad regular expression {value!r}: {exc}")
            if rule.get("action", AlertAction.DECLARE) not in AlertAction.values:
                fields.setdefault("routing_rules", []).append(f"action must be one of {AlertAction.values}.")
            if rule.get("impact") is not None and rule["impact"] not in Impact.values:
                fields.setdefault("routing_rules", []).append(f"impact must be one of {Impact.values}.")
            unknown = set(rule.get("services", [])) - set(Service.objects.filter(slug__in=rule.get("services", [])).values_list("slug", flat=True))
            if unknown:
                fields.setdefault("routing_rules", []).append(f"Unknown services: {', '.join(sorted(unknown))}.")
    try:
        normalised = severities.normalise_mapping(severity_mapping)
    except ValidationFailed as exc:
        fields.update(exc.fields)
        normalised = {}
    if not isinstance(group_by, list) or not all(isinstance(n, str) for n in group_by):
        fields["group_by"] = ["A list of label names."]
    if fields:
        raise ValidationFailed("The integration's configuration is not valid.", fields=fields)
    return normalised


@transaction.atomic
def integration_create(
    *,
    kind: str,
    name: str,
    by: Any,
    signing_secret: str = "",
    enabled: bool = True,
    rate_limit_per_minute: int = 6000,
    default_action: str = AlertAction.DECLARE,
    resolve_policy: str = ResolvePolicy.RESOLVE,
    reopen_window: timedelta = timedelta(minutes=30),
    routing_rules: list[dict[str, Any]] | None = None,
    severity_mapping: dict[str, Any] | None = None,
    group_by: list[str] | None = None,
) -> tuple[Integration, str]:
    """Create an integration; returns it and its token, which is shown only this once."""
    if kind not in IntegrationKind.values:
        raise ValidationFailed("Unknown integration kind.", fields={"kind": [f"Choose one of {IntegrationKind.values}."]})
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("A name is required.", fields={"name": ["This field may not be blank."]})
    if adapter_for(kind).needs_signing_secret and not signing_secret.strip():
        raise ValidationFailed(
            f"A {IntegrationKind(kind).label} integration needs its sender's signing secret.",
            fields={"signing_secret": ["Required for this kind."]},
        )
    routing_rules = routing_rules or []
    severity_mapping = severity_mapping or {}
    group_by = group_by or []
    severity_mapping = _check_config(routing_rules=routing_rules, severity_mapping=severity_mapping, group_by=group_by)
    integration = Integration(
        kind=kind,
        name=name[:120],
        signing_secret=signing_secret.strip(),
        enabled=enabled,
        rate_limit_per_minute=rate_limit_per_minute,
        default_action=default_action,
        resolve_policy=resolve_policy,
        reopen_window=reopen_window,
        routing_rules=routing_rules,
        severity_mapping=severity_mapping,
        group_by=group_by,
        created_by=by if getattr(by, "is_authenticated", False) else None,
    )
    token = Integration.new_token()
    integration.set_token(token)
    integration.save()
    return integration, token


@transaction.atomic
def integration_rotate_token(*, integration: Integration | int, by: Any) -> tuple[Integration, str]:
    pk = integration if isinstance(integration, int) else integration.pk
    integration = Integration.objects.select_for_update().get(pk=pk)
    token = Integration.new_token()
    integration.set_token(token)
    integration.save(update_fields=["token_hash", "token_hint", "updated_at"])
    log.info("integration %s token rotated by %s", integration.pk, by)
    return integration, token


@transaction.atomic
def integration_update(*, integration: Integration | int, by: Any, **changes: Any) -> Integration:
    allowed = {"name", "enabled", "rate_limit_per_minute", "default_action", "resolve_policy", "reopen_window",
               "routing_rules", "severity_mapping", "group_by", "signing_secret"}  # fmt: skip
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed("Unknown fields.", fields={name: ["Unknown field."] for name in unknown})
    pk = integration if isinstance(integration, int) else integration.pk
    integration = Integration.objects.select_for_update().get(pk=pk)
    for name, value in changes.items():
        setattr(integration, name, value)
    # The stored mapping is checked when it changes: disabling an integration must
    # not fail over a severity deleted behind the application's back.
    mapping = _check_config(
        routing_rules=integration.routing_rules, severity_mapping=changes.get("severity_mapping", {}), group_by=integration.group_by
    )
    if "severity_mapping" in changes:
        integration.severity_mapping = mapping
    integration.save()
    return integration


# --- Samples and retries -------------------------------------------------------------


def sample_body(integration: Integration) -> tuple[str, str]:
    """A realistic payload for the integration's kind, and the key the portal would assign."""
    return adapter_for(integration.kind).sample_body()


def integration_send_sample(*, integration: Integration, by: Any) -> Delivery:
    body, assigned = sample_body(integration)
    return delivery_store(
        integration=integration, body=body, headers={"user-agent": f"portal-sample ({by})"}, assigned_key=assigned, is_test=True
    )


def delivery_retry(*, delivery: Delivery, by: Any) -> bool:
    """Put a failed delivery back in the queue."""
    with transaction.atomic():
        changed = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(status=DeliveryStatus.PENDING, attempts=0)
        if changed:
            transaction.on_commit(partial(enqueue, delivery.pk))
    return bool(changed)
