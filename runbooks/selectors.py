"""Reads of the runbooks app: the library, runs, and runbooks suggested for an incident."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from runbooks.models import DueFrom, Run, Runbook, Step, StepRun, StepState

# /runbooks/42/ anywhere in an annotation's URL: the portal's own link to a runbook
_RUNBOOK_LINK = re.compile(r"/runbooks/(\d{1,18})(?:/|$|\?|#)")


def runbook_list_qs(*, q: str = "", service: str = "") -> QuerySet[Runbook]:
    qs = Runbook.objects.prefetch_related("services").order_by("title", "id")
    if q:
        qs = qs.filter(Q(title__icontains=q[:200]) | Q(description__icontains=q[:200]))
    if service:
        qs = qs.filter(services__slug=service[:50])
    return qs.distinct() if service else qs


def runbook_detail_qs() -> QuerySet[Runbook]:
    return Runbook.objects.prefetch_related("services", Prefetch("steps", queryset=Step.objects.order_by("order")))


def run_list_qs(*, incident_id: int | None = None, runbook_id: int | None = None) -> QuerySet[Run]:
    qs = Run.objects.select_related("runbook", "cluster", "started_by", "incident").order_by("-id")
    if incident_id is not None:
        qs = qs.filter(incident_id=incident_id)
    if runbook_id is not None:
        qs = qs.filter(runbook_id=runbook_id)
    return qs


def run_detail_qs() -> QuerySet[Run]:
    return run_list_qs().prefetch_related(
        Prefetch("step_runs", queryset=StepRun.objects.select_related("approved_by", "finished_by").order_by("order"))
    )


def step_run_qs() -> QuerySet[StepRun]:
    return StepRun.objects.select_related("run", "run__runbook", "approved_by", "finished_by")


def _linked_ids(annotations: dict[str, Any]) -> set[int]:
    ids = set()
    for key in ("runbook", "runbook_url"):
        match = _RUNBOOK_LINK.search(str(annotations.get(key) or ""))
        if match:
            ids.add(int(match.group(1)))
    return ids


def suggested_runbooks(incident: Any) -> list[tuple[Runbook, str]]:
    """Runbooks for an incident's alerts, with why: an alert's `runbook`/`runbook_url`
    annotation links to it, or the runbook answers the alert's name.

    Alert names are matched in Python: the library is small, and a JSON-array
    containment lookup is not available on SQLite."""
    alerts = list(incident.alerts.values("labels", "annotations", "title"))
    if not alerts:
        return []
    linked: set[int] = set()
    names: set[str] = set()
    for alert in alerts:
        linked |= _linked_ids(alert["annotations"] or {})
        name = (alert["labels"] or {}).get("alertname")
        if name:
            names.add(name)
    out: list[tuple[Runbook, str]] = []
    seen: set[int] = set()
    for runbook in Runbook.objects.filter(pk__in=linked).order_by("title"):
        out.append((runbook, "linked from the alert"))
        seen.add(runbook.pk)
    if names:
        for runbook in Runbook.objects.exclude(pk__in=seen).only("id", "title", "alert_names").order_by("title"):
            matched = sorted(names & set(runbook.alert_names or []))
            if matched:
                out.append((runbook, f"answers {', '.join(matched)}"))
    return out


@dataclass(frozen=True)
class ChecklistItem:
    step_run: StepRun
    status: str  # done | skipped | failed | cancelled | due | overdue | later
    due_at: datetime | None  # None: counts from a resolution that has not happened, or no target


def checklist_item(step_run: StepRun, incident: Any, now: datetime) -> ChecklistItem:
    """Where one checklist item stands. The one home of the due/overdue rule: a target
    counts from the incident's start, or from its resolution once it is resolved."""
    due_at = None
    if step_run.due_minutes is not None:
        reference = incident.resolved_at if step_run.due_from == DueFrom.RESOLUTION else incident.started_at
        if reference is not None:
            due_at = reference + timedelta(minutes=step_run.due_minutes)
    if step_run.state == StepState.SUCCEEDED:
        return ChecklistItem(step_run, "done", due_at)
    if step_run.state in (StepState.SKIPPED, StepState.FAILED, StepState.CANCELLED):
        return ChecklistItem(step_run, str(step_run.state), due_at)
    if step_run.due_minutes is not None and due_at is None:
        return ChecklistItem(step_run, "later", None)
    return ChecklistItem(step_run, "overdue" if due_at is not None and now > due_at else "due", due_at)


def incident_checklists(incident: Any, *, now: datetime | None = None) -> list[tuple[Run, list[ChecklistItem]]]:
    """The incident's runs that carry target times, with each item's status (the war room)."""
    now = now or timezone.now()
    runs = (run_list_qs(incident_id=incident.pk).filter(step_runs__due_minutes__isnull=False).distinct()
            .prefetch_related(Prefetch("step_runs", queryset=StepRun.objects.order_by("order"))))  # fmt: skip
    return [(run, [checklist_item(sr, incident, now) for sr in run.step_runs.all()]) for run in runs]
