"""Writes of the health app: configuring probes, heartbeat calls, and applying runs.

Applying a batch of runs (flow 2 of ARCHITECTURE.md) inserts the results in one
statement, moves each (probe, location) state only for runs later than the last
one applied, combines locations into the probe's state, and hands changes to
`health.effects` (the alert pipeline and the service's observed status).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from health import conditions as cond
from health import effects, engine
from health import state as sm
from health.engine import Run
from health.models import (
    Heartbeat,
    Location,
    OnRecovery,
    Outcome,
    Policy,
    Probe,
    ProbeKind,
    ProbeResult,
    ProbeState,
)
from health.probes import KINDS, Spec
from incidents.models import Service, Severity
from portal.errors import ValidationFailed
from portal.text import clean_text

log = logging.getLogger(__name__)

MAX_INTERVAL = 7 * 86400
EDITABLE = {
    "service", "name", "kind", "target", "credentials", "conditions", "interval_seconds", "timeout_seconds",
    "failure_threshold", "success_threshold", "locations", "quorum", "policy", "severity", "on_recovery", "enabled",
}  # fmt: skip


def default_location() -> Location:
    location, _ = Location.objects.get_or_create(name=settings.HEALTH_DEFAULT_LOCATION)
    return location


def _int(data: dict[str, Any], key: str, low: int, high: int, errors: dict[str, list[str]]) -> None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors[key] = [f"A whole number from {low} to {high}."]


def _check(data: dict[str, Any]) -> dict[str, Any]:
    """Validate a probe's whole configuration; every mistake at once, by field."""
    errors: dict[str, list[str]] = {}
    data["name"] = clean_text(data.get("name"), max_length=120)
    if not data["name"]:
        errors["name"] = ["A name is required."]
    if not isinstance(data.get("service"), Service):
        errors["service"] = ["An existing service is required."]
    kind = data.get("kind")
    if kind not in ProbeKind.values:
        errors["kind"] = [f"One of {', '.join(ProbeKind.values)}."]
    for key in ("target", "credentials"):
        if not isinstance(data.get(key), dict):
            errors[key] = ["A JSON object."]
    _int(data, "interval_seconds", 1, MAX_INTERVAL, errors)
    timeout = data.get("timeout_seconds")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0.1 <= timeout <= 120:
        errors["timeout_seconds"] = ["Seconds from 0.1 to 120."]
    elif isinstance(data.get("interval_seconds"), int) and timeout > data["interval_seconds"]:
        errors["timeout_seconds"] = ["The timeout cannot be longer than the interval."]
    _int(data, "failure_threshold", 1, 100, errors)
    _int(data, "success_threshold", 1, 100, errors)
    locations = data.get("locations")
    if not locations:
        errors["locations"] = ["At least one location."]
    _int(data, "quorum", 1, 100, errors)
    if locations and isinstance(data.get("quorum"), int) and data["quorum"] > len(locations):
        errors["quorum"] = [f"At most the number of locations ({len(locations)})."]
    if data.get("policy") not in Policy.values:
        errors["policy"] = [f"One of {', '.join(Policy.values)}."]
    if data.get("policy") == Policy.DECLARE and not isinstance(data.get("severity"), Severity):
        errors["severity"] = ["Declaring an incident needs a severity."]
    if data.get("on_recovery") not in OnRecovery.values:
        errors["on_recovery"] = [f"One of {', '.join(OnRecovery.values)}."]
    if not isinstance(data.get("enabled"), bool):
        errors["enabled"] = ["true or false."]
    if kind in KINDS and isinstance(data.get("target"), dict) and isinstance(data.get("credentials"), dict):
        module = KINDS[kind]
        unknown = set(data["credentials"]) - set(module.SECRET_KEYS)
        if unknown:
            errors["credentials"] = [f"Unknown keys for a {kind} probe: {', '.join(sorted(unknown))} (it takes {', '.join(module.SECRET_KEYS) or 'none'})."]
        errors.update(module.validate(data["target"], data["credentials"]))
        if kind == ProbeKind.HEARTBEAT and locations and len(locations) > 1:
            errors["locations"] = ["A heartbeat is received, not run from places: one location."]
    if not isinstance(data.get("conditions"), list) or not all(isinstance(c, str) for c in data.get("conditions") or []):
        errors["conditions"] = ["A list of condition strings."]
    elif kind in KINDS:
        _parsed, problems = cond.parse_all(data["conditions"], allowed=set(KINDS[kind].PLACEHOLDERS))
        if len(data["conditions"]) > 30:
            problems[30] = "At most 30 conditions."
        for index, message in sorted(problems.items()):
            errors[f"conditions.{index}"] = [message]
    if errors:
        raise ValidationFailed("The probe's configuration is not valid.", fields=errors)
    return data


def _resolve_refs(changes: dict[str, Any]) -> dict[str, Any]:
    """Names to rows: service (slug or id), severity (name or id), locations (names)."""
    out = dict(changes)
    service = out.get("service")
    if isinstance(service, str | int) and not isinstance(service, bool):
        lookup = {"pk": service} if isinstance(service, int) else {"slug": service}
        out["service"] = Service.objects.filter(**lookup).first()
    severity = out.get("severity")
    if isinstance(severity, str | int) and not isinstance(severity, bool) and severity != "":
        lookup = {"pk": severity} if isinstance(severity, int) else {"name": severity}
        out["severity"] = Severity.objects.filter(**lookup).first()
    elif severity == "":
        out["severity"] = None
    if "locations" in out:
        names = out["locations"]
        if not isinstance(names, list) or not all(isinstance(n, str | Location) for n in names):
            raise ValidationFailed("The probe's configuration is not valid.", fields={"locations": ["A list of location names."]})
        wanted = [n.name if isinstance(n, Location) else n for n in names]
        found = {loc.name: loc for loc in Location.objects.filter(name__in=wanted)}
        if settings.HEALTH_DEFAULT_LOCATION in wanted and settings.HEALTH_DEFAULT_LOCATION not in found:
            found[settings.HEALTH_DEFAULT_LOCATION] = default_location()
        missing = [n for n in wanted if n not in found]
        if missing:
            raise ValidationFailed("The probe's configuration is not valid.", fields={"locations": [f"Unknown locations: {', '.join(missing)}."]})
        out["locations"] = [found[n] for n in dict.fromkeys(wanted)]
    return out


def _save(probe: Probe, data: dict[str, Any], by: Any) -> Probe:
    for key, value in data.items():
        if key != "locations":
            setattr(probe, key, value)
    if not probe.conditions:
        probe.conditions = []
    creating = probe.pk is None
    if creating and getattr(by, "is_authenticated", False):
        probe.created_by = by
    probe.save()
    probe.locations.set(data["locations"])
    if probe.kind == ProbeKind.HEARTBEAT and not Heartbeat.objects.filter(probe=probe).exists():
        heartbeat = Heartbeat(probe=probe)
        token = Heartbeat.new_token()
        heartbeat.set_token(token)
        heartbeat.save()
        probe.new_heartbeat_token = token  # type: ignore[attr-defined]  # shown once, by the caller
    return probe


@transaction.atomic
def probe_create(*, by: Any, **fields: Any) -> Probe:
    """Configure a probe. A heartbeat probe's push token is on `probe.new_heartbeat_token`, this once."""
    unknown = set(fields) - EDITABLE
    if unknown:
        raise ValidationFailed("Unknown fields.", fields={name: ["Unknown field."] for name in sorted(unknown)})
    data: dict[str, Any] = {
        "target": {}, "credentials": {}, "conditions": [], "interval_seconds": 60, "timeout_seconds": 10.0,
        "failure_threshold": 3, "success_threshold": 2, "quorum": 1, "policy": Policy.RECORD, "severity": None,
        "on_recovery": OnRecovery.RESOLVE, "enabled": True, "name": "", "kind": "", "service": None,
    }  # fmt: skip
    data.update(fields)
    if not data.get("locations"):
        data["locations"] = [settings.HEALTH_DEFAULT_LOCATION]
    data = _check(_resolve_refs(data))
    return _save(Probe(next_run_at=timezone.now()), data, by)


@transaction.atomic
def probe_update(*, probe: Probe | int, by: Any, **changes: Any) -> Probe:
    """Change a probe. Credentials merge: a key given replaces the stored one, a key
    left out keeps it, a key given as null removes it."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValidationFailed("Unknown fields.", fields={name: ["Unknown field."] for name in sorted(unknown)})
    pk = probe if isinstance(probe, int) else probe.pk
    probe = Probe.objects.select_for_update(of=("self",)).select_related("service", "severity").get(pk=pk)
    data: dict[str, Any] = {key: getattr(probe, key) for key in EDITABLE - {"locations"}}
    data["locations"] = list(probe.locations.all())
    if "credentials" in changes:
        merged = dict(probe.credentials) if changes.get("kind", probe.kind) == probe.kind else {}
        if not isinstance(changes["credentials"], dict):
            raise ValidationFailed("The probe's configuration is not valid.", fields={"credentials": ["A JSON object."]})
        for key, value in changes["credentials"].items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        changes = {**changes, "credentials": merged}
    elif changes.get("kind", probe.kind) != probe.kind:
        changes = {**changes, "credentials": {}}
    data.update(changes)
    data = _check(_resolve_refs(data))
    schedule_changed = "interval_seconds" in changes or ("enabled" in changes and changes["enabled"] and not probe.enabled)
    if schedule_changed:
        probe.next_run_at = timezone.now()
    return _save(probe, data, by)


@transaction.atomic
def probe_delete(*, probe: Probe | int, by: Any) -> None:
    pk = probe if isinstance(probe, int) else probe.pk
    probe = Probe.objects.select_for_update().get(pk=pk)
    service_id = probe.service_id
    had_effect = probe.signalled_status in (Outcome.DOWN, Outcome.DEGRADED)
    probe.delete()
    if had_effect:
        effects.resolve_deleted(probe_id=pk, service_id=service_id, on_recovery=probe.on_recovery)
    effects.push_service_status(service_id)


def location_create(*, name: str, description: str = "", self_check: str = "") -> Location:
    errors: dict[str, list[str]] = {}
    if not name or not all(c.isalnum() or c in "-_" for c in name) or len(name) > 64:
        errors["name"] = ["Letters, digits, '-' and '_' (it names the queue probes.<name>)."]
    if self_check and not (self_check.startswith(("http://", "https://", "tcp://"))):
        errors["self_check"] = ["tcp://host:port or an http(s) URL."]
    if errors:
        raise ValidationFailed("The location is not valid.", fields=errors)
    location, _ = Location.objects.update_or_create(
        name=name, defaults={"description": clean_text(description, max_length=200), "self_check": self_check}
    )
    return location


# --- Running ---------------------------------------------------------------------------


# The fields spec_for reads.
SPEC_FIELDS = ("id", "kind", "target", "credentials", "conditions", "timeout_seconds", "interval_seconds", "created_at")


def spec_for(probe: Probe, scheduled_at: datetime, heartbeat: Heartbeat | None = None) -> Spec:
    extra: dict[str, Any] = {}
    if probe.kind == "heartbeat":
        extra = {
            "since": probe.created_at,
            "interval": probe.interval_seconds,
            "last_ping_at": heartbeat.last_ping_at if heartbeat else None,
            "last_ok": heartbeat.last_ping_ok if heartbeat else True,
            "last_message": heartbeat.last_message if heartbeat else "",
        }
    return Spec(
        probe_id=probe.pk, kind=probe.kind, target=probe.target, credentials=probe.credentials,
        conditions=list(probe.conditions or []), timeout=float(probe.timeout_seconds), scheduled_at=scheduled_at, extra=extra,
    )  # fmt: skip


def probe_run_now(*, probe: Probe) -> Run:
    """Run a probe once from this process and return the result with each condition's
    evaluation; it is shown, not recorded (the schedule's results are the history)."""
    heartbeat = Heartbeat.objects.filter(probe=probe).first()
    runs, _problem = engine.run_batch([spec_for(probe, timezone.now(), heartbeat)])
    return runs[0]


# --- Heartbeats ---------------------------------------------------------------------


def heartbeat_ping(*, token: str, ok: bool = True, message: str = "") -> Heartbeat | None:
    """A call to a heartbeat's push URL; None for an unknown token."""
    from health.models import hash_token

    heartbeat = Heartbeat.objects.filter(token_hash=hash_token(token)).select_related("probe").first()
    if heartbeat is None:
        return None
    now = timezone.now()
    Heartbeat.objects.filter(pk=heartbeat.pk).update(
        last_ping_at=now, last_ping_ok=ok, last_message=clean_text(message, max_length=500), pings=heartbeat.pings + 1
    )
    # Judge it now rather than at the next tick: a reported failure shows at once.
    Probe.objects.filter(pk=heartbeat.probe_id, enabled=True).update(next_run_at=now)
    heartbeat.refresh_from_db()
    return heartbeat


# --- Applying runs ------------------------------------------------------------------------


def results_apply(*, location: Location, runs: Iterable[Run]) -> dict[str, int]:
    """Record one batch of runs from one location and move the states; safe to repeat."""
    runs = list(runs)
    counts = {"results": 0, "applied": 0, "changed": 0}
    if not runs:
        return counts
    rows = [
        ProbeResult(
            probe_id=run.probe_id, location=location, scheduled_at=run.scheduled_at, started_at=run.started_at,
            outcome=run.outcome, response_time_ms=run.response_time_ms, message=run.message[:500],
            evaluations=run.evaluations, values=run.values,
        )
        for run in runs
    ]  # fmt: skip
    # .order_by(): the default ordering (by service name) would join and sort for nothing
    existing_ids = set(Probe.objects.filter(pk__in={r.probe_id for r in runs}).order_by().values_list("pk", flat=True))
    rows = [row for row in rows if row.probe_id in existing_ids]  # deleted since they were scheduled
    with transaction.atomic():
        ProbeResult.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    counts["results"] = len(rows)
    changed_probes: set[int] = set()
    by_probe = {run.probe_id: run for run in sorted(runs, key=lambda r: r.scheduled_at) if run.probe_id in existing_ids}
    with transaction.atomic():
        probes = {
            p.pk: p
            for p in Probe.objects.filter(pk__in=by_probe).order_by().only("pk", "failure_threshold", "success_threshold")
        }
        states = {s.probe_id: s for s in ProbeState.objects.select_for_update().filter(location=location, probe_id__in=by_probe)}
        new_states: list[ProbeState] = []
        updated: list[ProbeState] = []
        for probe_id, run in by_probe.items():
            probe = probes[probe_id]
            row = states.get(probe_id)
            if row is not None and row.last_scheduled_at is not None and run.scheduled_at <= row.last_scheduled_at:
                continue  # this run (or a later one) was applied already
            before = sm.LocationState(
                status=row.status, last_outcome=row.last_outcome, failures=row.failures, successes=row.successes,
                same=row.same, confirmed=row.confirmed,
            ) if row else sm.LocationState()  # fmt: skip
            after = sm.step(before, run.outcome, failure_threshold=probe.failure_threshold, success_threshold=probe.success_threshold)
            if row is None:
                row = ProbeState(probe_id=probe_id, location=location)
                new_states.append(row)
            else:
                updated.append(row)
            if after.status != row.status:
                row.changed_at = run.started_at
                changed_probes.add(probe_id)
            row.status, row.last_outcome, row.confirmed = after.status, after.last_outcome, after.confirmed
            row.failures, row.successes, row.same = after.failures, after.successes, after.same
            row.last_scheduled_at, row.last_result_at = run.scheduled_at, run.started_at
            counts["applied"] += 1
        ProbeState.objects.bulk_create(new_states, ignore_conflicts=True)
        # Rows locked above are replaced whole, keeping their ids: one DELETE and one
        # INSERT, where bulk_update would build a CASE per row and field.
        ProbeState.objects.filter(pk__in=[row.pk for row in updated]).delete()
        ProbeState.objects.bulk_create(updated, batch_size=1000)
    counts["changed"] = probes_evaluate(probe_ids=sorted(changed_probes))
    return counts


def probes_evaluate(*, probe_ids: list[int]) -> int:
    """`probe_evaluate` for many probes in a few statements: the probes' locks, their
    states and their new states in one query each; effects only for the probes whose
    outcome goes to the alert pipeline, and each service's observed status once."""
    if not probe_ids:
        return 0
    now = timezone.now()
    changed = 0
    with transaction.atomic():
        probes = list(Probe.objects.select_for_update().filter(pk__in=probe_ids).order_by("pk"))
        links: dict[int, set[int]] = {}
        for probe_id, location_id in Probe.locations.through.objects.filter(probe_id__in=probe_ids).values_list("probe_id", "location_id"):
            links.setdefault(probe_id, set()).add(location_id)
        states: dict[int, list[str]] = {}
        for probe_id, location_id, status in ProbeState.objects.filter(probe_id__in=probe_ids).values_list("probe_id", "location_id", "status"):
            if location_id in links.get(probe_id, set()):
                states.setdefault(probe_id, []).append(status)
        moved: list[Probe] = []
        for probe in probes:
            statuses = states.get(probe.pk, [])
            statuses += [sm.PENDING] * (len(links.get(probe.pk, ())) - len(statuses))
            status = sm.combine(statuses, quorum=probe.quorum, previous=probe.status)
            if status != probe.status:
                probe.status, probe.status_changed_at = status, now
                moved.append(probe)
        by_status: dict[str, list[int]] = {}
        for probe in moved:
            by_status.setdefault(probe.status, []).append(probe.pk)
        for status, ids in by_status.items():
            Probe.objects.filter(pk__in=ids).update(status=status, status_changed_at=now)
        changed = len(moved)
        quiet = [p.pk for p in moved if p.policy == Policy.RECORD and p.status in effects.SETTLED_STATES]
        Probe.objects.filter(pk__in=quiet).update(signalled_status=F("status"))
        for probe in moved:
            if probe.policy != Policy.RECORD:
                effects.settle(probe, push_status=False)
        for service_id in sorted({p.service_id for p in moved}):
            effects.push_service_status(service_id)
    return changed


def probe_evaluate(*, probe_id: int, now: Any = None) -> bool:
    """Combine the locations' states into the probe's state and act on a change, or on
    an effect held back by maintenance that can now be sent. Returns whether the
    probe's state changed."""
    with transaction.atomic():
        probe = Probe.objects.select_for_update(of=("self",)).select_related("service", "severity").filter(pk=probe_id).first()
        if probe is None:
            return False
        location_ids = set(probe.locations.values_list("pk", flat=True))
        statuses = [s for lid, s in ProbeState.objects.filter(probe=probe).values_list("location_id", "status") if lid in location_ids]
        statuses += [sm.PENDING] * (len(location_ids) - len(statuses))
        status = sm.combine(statuses, quorum=probe.quorum, previous=probe.status)
        changed = status != probe.status
        if changed:
            probe.status = status
            probe.status_changed_at = now or timezone.now()
            Probe.objects.filter(pk=probe.pk).update(status=status, status_changed_at=probe.status_changed_at)
        effects.settle(probe)
    return changed


def results_prune(*, older_than_days: int | None = None, limit: int = 50_000) -> int:
    """Delete raw results past retention (the rollups stay)."""
    days = older_than_days or settings.HEALTH_RESULT_RETENTION_DAYS
    cutoff = timezone.now() - timedelta(days=days)
    ids = list(ProbeResult.objects.filter(started_at__lt=cutoff).order_by("started_at").values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    deleted, _ = ProbeResult.objects.filter(pk__in=ids).delete()
    return deleted
