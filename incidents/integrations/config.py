"""The integrations section of the configuration document.

Secrets are never written in the document: `secret_env` names the environment
variable holding the integration's token (or PagerDuty routing key) on the
machine that applies the document, and `signing_secret_env` a PagerDuty v3
subscription's signing secret. The plan shows a secret as changed when the
variable's value is not the stored one, and never shows the value.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

from incidents.integrations import services, severities
from incidents.models import AlertAction, Impact, Integration, IntegrationKind, ResolvePolicy
from incidents.models.alerts import hash_token
from portal.config.sections import ItemError
from portal.text import clean_text

ENV_NAME = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "maxLength": 128}
SEVERITY_REF = {"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]}


class Integrations:
    name = "integrations"
    key = "name"
    item_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "kind"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 120},
            "kind": {"enum": list(IntegrationKind.values)},
            "enabled": {"type": "boolean"},
            "secret_env": {**ENV_NAME, "description": "Environment variable holding the token; required to create one."},
            "signing_secret_env": {**ENV_NAME, "description": "PagerDuty v3 webhooks: variable holding the signing secret."},
            "rate_limit_per_minute": {"type": "integer", "minimum": 0, "maximum": 1000000},
            "default_action": {"enum": list(AlertAction.values)},
            "resolve_policy": {"enum": list(ResolvePolicy.values)},
            "reopen_window_minutes": {"type": "integer", "minimum": 0, "maximum": 525600},
            "routing_rules": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "match": {"type": "object", "additionalProperties": {"type": "string"}},
                        "services": {"type": "array", "items": {"type": "string"}},
                        "impact": {"enum": list(Impact.values)},
                        "action": {"enum": list(AlertAction.values)},
                    },
                },
            },
            "severity_mapping": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "field": {"type": "string", "minLength": 1},
                    "map": {"type": "object", "additionalProperties": SEVERITY_REF},
                    "default": SEVERITY_REF,
                },
            },
            "group_by": {"type": "array", "items": {"type": "string", "minLength": 1}},
        },
    }

    def export(self) -> list[dict[str, Any]]:
        return [self._row(i) for i in Integration.objects.order_by("name", "id")]

    @staticmethod
    def _row(i: Integration) -> dict[str, Any]:
        return {
            "name": i.name, "kind": i.kind, "enabled": i.enabled, "rate_limit_per_minute": i.rate_limit_per_minute,
            "default_action": i.default_action, "resolve_policy": i.resolve_policy,
            "reopen_window_minutes": int(i.reopen_window.total_seconds() // 60), "routing_rules": i.routing_rules,
            "severity_mapping": severities.mapping_for_display(i.severity_mapping), "group_by": i.group_by,
        }  # fmt: skip

    @staticmethod
    def _env(item: dict[str, Any], name: str) -> str | None:
        variable = item.get(name)
        if not variable:
            return None
        value = os.environ.get(variable, "")
        if not value.strip():
            raise ItemError(f"the environment variable {variable} is not set", name)
        return value.strip()

    def normalise(self, item: dict[str, Any]) -> dict[str, Any]:
        mapping = severities.mapping_for_display(severities.normalise_mapping(item.get("severity_mapping") or {}))
        out = {
            "name": clean_text(item["name"], max_length=120), "kind": item["kind"], "enabled": item.get("enabled", True),
            "rate_limit_per_minute": item.get("rate_limit_per_minute", 6000),
            "default_action": item.get("default_action", AlertAction.DECLARE), "resolve_policy": item.get("resolve_policy", ResolvePolicy.RESOLVE),
            "reopen_window_minutes": item.get("reopen_window_minutes", 30), "routing_rules": item.get("routing_rules", []),
            "severity_mapping": mapping, "group_by": item.get("group_by", []),
        }  # fmt: skip
        current = self._current(out["name"])
        secret = self._env(item, "secret_env")
        if secret is not None:
            if item["kind"] == IntegrationKind.PAGERDUTY_EVENTS_V2 and not re.fullmatch(r"[A-Za-z0-9]{32}", secret):
                raise ItemError(f"{item['secret_env']} must hold 32 letters or digits: PagerDuty senders require it of a routing key", "secret_env")
            if current is None or current.token_hash != hash_token(secret):
                out["secret"] = f"set from {item['secret_env']}"
        elif current is None:
            raise ItemError("required to create an integration: the name of the environment variable holding its secret", "secret_env")
        signing = self._env(item, "signing_secret_env")
        if signing is not None and (current is None or current.signing_secret != signing):
            out["signing_secret"] = f"set from {item['signing_secret_env']}"
        if current is not None and current.kind != out["kind"]:
            raise ItemError(f"an integration's kind cannot change (it is {current.kind}); give the new one another name", "kind")
        return out

    @staticmethod
    def _current(name: str) -> Integration | None:
        rows = list(Integration.objects.filter(name=name)[:2])
        if len(rows) > 1:
            raise ItemError(f"more than one integration is named {name!r}; rename one in the portal first", "name")
        return rows[0] if rows else None

    def write(self, item: dict[str, Any], *, by: Any) -> None:
        data = self.normalise(item)
        fields = {
            "enabled": data["enabled"], "rate_limit_per_minute": data["rate_limit_per_minute"], "default_action": data["default_action"],
            "resolve_policy": data["resolve_policy"], "reopen_window": timedelta(minutes=data["reopen_window_minutes"]),
            "routing_rules": data["routing_rules"], "severity_mapping": item.get("severity_mapping") or {}, "group_by": data["group_by"],
        }  # fmt: skip
        signing = self._env(item, "signing_secret_env")
        if signing is not None:
            fields["signing_secret"] = signing
        current = self._current(data["name"])
        if current is None:
            integration, _token = services.integration_create(kind=data["kind"], name=data["name"], by=by, **fields)
        else:
            integration = services.integration_update(integration=current, by=by, **fields)
        secret = self._env(item, "secret_env")
        if secret is not None and integration.token_hash != hash_token(secret):
            if Integration.objects.filter(token_hash=hash_token(secret)).exclude(pk=integration.pk).exists():
                raise ItemError(f"{item['secret_env']} holds the secret of another integration", "secret_env")
            integration.set_token(secret)
            integration.save(update_fields=["token_hash", "token_hint", "updated_at"])

    def delete(self, key: str, *, by: Any) -> None:
        Integration.objects.filter(name=key).delete()


INTEGRATIONS = Integrations()
