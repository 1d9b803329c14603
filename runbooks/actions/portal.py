"""Actions on the portal itself, each through the owning app's services: post a
public update and start or end a maintenance window (the incident core), run a
probe now and assert its outcome (health). A dry run changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from portal.errors import DomainError
from runbooks.actions.base import Action, ActionContext, ActionError, ActionResult

SLUG = {"type": "string", "pattern": r"^[-a-zA-Z0-9_]{1,50}$"}
STATUSES = ["investigating", "identified", "monitoring", "resolved"]


def _obj(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": required, "properties": properties}


def post_update(ctx: ActionContext, params: dict[str, Any]) -> ActionResult:
    from incidents.services import incident_post_update

    if ctx.incident_id is None:
        raise ActionError("A drill has no incident to post a public update on.")
    if ctx.dry_run:
        return ActionResult(ok=True, output=f"Dry run: would post “{params['body']}”" + (f" as {params['status']}" if params.get("status") else ""))
    try:
        update = incident_post_update(incident=ctx.incident_id, body=params["body"], by=ctx.by, status=params.get("status"))
    except DomainError as exc:
        raise ActionError(exc.message) from exc
    return ActionResult(ok=True, output=f"Posted public update {update.pk} ({update.status}).",
                        after={"public_update": update.pk, "status": update.status})  # fmt: skip


def _window_started_by_run(run_id: int | None) -> int | None:
    from runbooks.models import StepRun

    if run_id is None:
        return None
    for after in StepRun.objects.filter(run_id=run_id, action="maintenance.start", state="succeeded").order_by("-order").values_list("after", flat=True):
        if isinstance(after, dict) and after.get("window"):
            return int(after["window"])
    return None


def maintenance_start(ctx: ActionContext, params: dict[str, Any]) -> ActionResult:
    """Start a scheduled window, or open one now for services for `minutes`."""
    from incidents.models import MaintenanceWindow, Service
    from incidents.services.maintenance import maintenance_change_status, maintenance_schedule

    if "window" in params:
        window = MaintenanceWindow.objects.filter(pk=params["window"]).first()
        if window is None:
            raise ActionError(f"No maintenance window {params['window']}.")
        before = {"window": window.pk, "status": window.status}
        if ctx.dry_run:
            return ActionResult(ok=True, output=f"Dry run: would start maintenance “{window.title}”.", before=before)
        try:
            window = maintenance_change_status(window=window, status="in_progress", by=ctx.by)
        except DomainError as exc:
            raise ActionError(exc.message) from exc
        return ActionResult(ok=True, output=f"Started maintenance “{window.title}”.", before=before,
                            after={"window": window.pk, "status": window.status})  # fmt: skip
    services = list(Service.objects.filter(slug__in=params.get("services") or []))
    missing = sorted(set(params.get("services") or []) - {s.slug for s in services})
    if missing:
        raise ActionError(f"Unknown services: {', '.join(missing)}.")
    minutes = int(params.get("minutes", 60))
    if ctx.dry_run:
        return ActionResult(ok=True, output=f"Dry run: would open maintenance “{params['title']}” for {minutes} min on {', '.join(s.slug for s in services)}.")
    try:
        with transaction.atomic():
            now = timezone.now()
            window = maintenance_schedule(title=params["title"], scheduled_start=now, scheduled_end=now + timedelta(minutes=minutes),
                                          services=services, by=ctx.by, description=params.get("description", ""))  # fmt: skip
            window = maintenance_change_status(window=window, status="in_progress", by=ctx.by)
    except DomainError as exc:
        raise ActionError(exc.message) from exc
    return ActionResult(ok=True, output=f"Opened maintenance “{window.title}” (window {window.pk}).",
                        after={"window": window.pk, "status": window.status})  # fmt: skip


def maintenance_end(ctx: ActionContext, params: dict[str, Any]) -> ActionResult:
    """End a window: the one named, or the one an earlier step of this run started."""
    from incidents.models import MaintenanceWindow
    from incidents.services.maintenance import maintenance_change_status

    pk = params.get("window") or _window_started_by_run(ctx.run_id)
    window = MaintenanceWindow.objects.filter(pk=pk).first() if pk else None
    if window is None:
        raise ActionError("No maintenance window to end: name one, or start one in an earlier step.")
    before = {"window": window.pk, "status": window.status}
    if ctx.dry_run:
        return ActionResult(ok=True, output=f"Dry run: would end maintenance “{window.title}”.", before=before)
    try:
        window = maintenance_change_status(window=window, status="completed", by=ctx.by)
    except DomainError as exc:
        raise ActionError(exc.message) from exc
    return ActionResult(ok=True, output=f"Ended maintenance “{window.title}”.", before=before,
                        after={"window": window.pk, "status": window.status})  # fmt: skip


def probe_assert(ctx: ActionContext, params: dict[str, Any]) -> ActionResult:
    """Run a portal probe once now (health's own service) and compare its outcome."""
    from health.selectors import probe_detail_qs
    from health.services import probe_run_now

    probe = probe_detail_qs().filter(pk=params["probe"]).first()
    if probe is None:
        raise ActionError(f"No probe {params['probe']}.")
    expect = params.get("expect", "up")
    result = probe_run_now(probe=probe)  # read-only: shown, not recorded, also in a dry run
    ok = result.outcome == expect
    output = f"Probe “{probe.name}”: {result.outcome}" + (f" ({result.message})" if result.message else "")
    if not ok:
        output += f"; expected {expect}."
    return ActionResult(ok=ok, output=output, after={"probe": probe.pk, "outcome": result.outcome,
                                                     "response_time_ms": result.response_time_ms})  # fmt: skip


ACTIONS = [
    Action("incident.post_update", "Post a public update",
           _obj({"body": {"type": "string", "minLength": 1, "maxLength": 5000}, "status": {"type": "string", "enum": STATUSES}}, ["body"]),
           post_update, kubernetes=False, summary=lambda p: "post a public update" + (f" ({p['status']})" if p.get("status") else "")),
    Action("maintenance.start", "Start a maintenance window",
           {"oneOf": [_obj({"window": {"type": "integer", "minimum": 1}}, ["window"]),
                      _obj({"title": {"type": "string", "minLength": 1, "maxLength": 200},
                            "services": {"type": "array", "minItems": 1, "maxItems": 50, "items": SLUG},
                            "minutes": {"type": "integer", "minimum": 1, "maximum": 7 * 24 * 60},
                            "description": {"type": "string", "maxLength": 5000}}, ["title", "services"])]},
           maintenance_start, kubernetes=False,
           summary=lambda p: f"start maintenance {p['window']}" if "window" in p else f"open maintenance on {', '.join(p.get('services') or [])}"),
    Action("maintenance.end", "End a maintenance window", _obj({"window": {"type": "integer", "minimum": 1}}, []),
           maintenance_end, kubernetes=False, summary=lambda p: f"end maintenance {p.get('window', '(started by this run)')}"),
    Action("probe.assert", "Run a probe and assert its outcome",
           _obj({"probe": {"type": "integer", "minimum": 1}, "expect": {"type": "string", "enum": ["up", "degraded", "down"]}}, ["probe"]),
           probe_assert, mutating=False, kubernetes=False, summary=lambda p: f"probe {p.get('probe')} is {p.get('expect', 'up')}"),
]  # fmt: skip
