"""Writes of the runbooks app: the library (runbooks, steps, import) and runs."""

from __future__ import annotations

from runbooks.services.checklists import checklist_attach, checklist_detach, checklists_set, checklists_start
from runbooks.services.library import (
    StepInput,
    cluster_save,
    endpoint_save,
    runbook_delete,
    runbook_import,
    runbook_save,
)
from runbooks.services.runs import (
    run_cancel,
    run_start,
    step_approve,
    step_complete,
    step_retry,
)

__all__ = [
    "StepInput",
    "checklist_attach",
    "checklist_detach",
    "checklists_set",
    "checklists_start",
    "cluster_save",
    "endpoint_save",
    "run_cancel",
    "run_start",
    "runbook_delete",
    "runbook_import",
    "runbook_save",
    "step_approve",
    "step_complete",
    "step_retry",
]
