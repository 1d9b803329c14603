"""A worker process killed (SIGKILL) in the middle of a step, or between two steps:
no step is paged twice and none is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from incidents.models import Escalation, Page
from incidents.oncall import paging
from portal.tests.factories import declare

ROOT = Path(__file__).resolve().parents[3]

WORKER = textwrap.dedent("""
    import os, signal, sys
    import django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.conf import settings
    settings.DATABASES["default"]["NAME"] = os.environ["KILL_TEST_DB"]
    from incidents.oncall import paging

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    where = os.environ["KILL_AT"]
    if where == "inside-step":      # after the claim UPDATE, before the step's transaction commits
        paging.notify.notification_create = die
    elif where == "between-steps":  # after the step committed, before the next step is queued
        paging._enqueue_step = die
    paging.escalation_run_step(escalation_id=int(sys.argv[1]), step=int(sys.argv[2]))
    print("finished")
""")


def run_worker(escalation_id: int, step: int, kill_at: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KILL_TEST_DB": str(connection.settings_dict["NAME"]), "KILL_AT": kill_at, "PORTAL_NO_EMBEDDED_REDIS": "1"}
    return subprocess.run([sys.executable, "-c", WORKER, str(escalation_id), str(step)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_inside_or_between_steps_neither_loses_nor_doubles_a_page(seeded_transactional_db, crew, django_capture_on_commit_callbacks) -> None:
    incident = declare(title="Checkout down", sev="SEV1")
    paging.escalation_start(incident_id=incident.pk)
    escalation = Escalation.objects.get(incident=incident)
    connection.close()  # SQLite: let the worker take the write lock

    died = run_worker(escalation.pk, 0, "inside-step")
    assert died.returncode == -signal.SIGKILL, died.stderr
    escalation.refresh_from_db()
    assert (escalation.next_step, Page.objects.count()) == (0, 0)  # rolled back with the process: still due

    died = run_worker(escalation.pk, 0, "between-steps")
    assert died.returncode == -signal.SIGKILL, died.stderr
    escalation.refresh_from_db()
    assert escalation.next_step == 1 and list(Page.objects.values_list("step", "user__username")) == [(0, "ada")]
    # the task for step 1 was never queued; a redelivered step-0 task finds the step claimed
    assert run_worker(escalation.pk, 0, "nowhere").stdout.strip() == "finished"
    assert Page.objects.count() == 1

    Escalation.objects.filter(pk=escalation.pk).update(next_due_at=timezone.now() - timedelta(seconds=1))  # step 1 falls due
    assert paging.escalations_sweep() == 1  # beat re-arms the lost step
    assert paging.escalations_sweep() == 0
    assert list(Page.objects.order_by("step").values_list("step", "user__username")) == [(0, "ada"), (1, "lead")]
