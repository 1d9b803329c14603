"""Shared set-up for the public status page tests (fixtures are imported by them)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from incidents.models import Severity
from incidents.public import store
from incidents.services import (
    incident_add_note,
    incident_assign_role,
    incident_post_update,
    maintenance_change_status,
    maintenance_schedule,
)
from portal.tests.factories import ServiceFactory, ServiceGroupFactory, declare

# Strings that exist only on internal things: none may reach a public surface.
SECRETS = [
    "Secret ledger meltdown",  # an internal incident's title
    "Billing worker",  # an internal service
    "rotate the hsm keys",  # a note on a public incident
    "root cause is in the ledger",  # the public incident's internal summary
    "Internal capacity work",  # an internal maintenance window
    "Responder Person",  # the name of the public incident's commander
]


@pytest.fixture
def snapshot_dir(settings: Any, tmp_path: Any) -> Iterator[Any]:
    """Each test gets its own snapshot file and an empty process memory."""
    settings.DATA_DIR = tmp_path
    store.forget()
    yield tmp_path
    store.forget()


@pytest.fixture
def world(cast: Any, snapshot_dir: Any) -> dict[str, Any]:
    """A public incident with updates, notes and roles; an internal incident on a
    public and an internal service; public and internal maintenance."""
    # Transactional tests flush the rows migration 0002 created.
    for rank in range(1, 5):
        Severity.objects.get_or_create(name=f"SEV{rank}", defaults={"rank": rank})
    group = ServiceGroupFactory.create(slug="platform", name="Platform")
    cast.service.group = group
    cast.service.save()
    web = ServiceFactory.create(slug="website", name="Website")
    public = declare(
        by=cast.owner,
        title="Checkout errors",
        sev="SEV2",
        visibility="public",
        summary="root cause is in the ledger",
        impacts={cast.service: "partial_outage", cast.internal_service: "major_outage"},
    )
    incident_post_update(incident=public, body="We are **investigating** elevated errors.", by=cast.owner)
    incident_post_update(incident=public, body="We have found the cause.", status="identified", by=cast.owner)
    incident_add_note(incident=public, body="rotate the hsm keys", by=cast.responder)
    cast.responder.first_name, cast.responder.last_name = "Responder", "Person"
    cast.responder.save()
    incident_assign_role(incident=public, role="commander", user=cast.responder, by=cast.owner)
    internal = declare(
        by=cast.owner,
        title="Secret ledger meltdown",
        sev="SEV1",
        visibility="internal",
        impacts={web: "major_outage", cast.internal_service: "major_outage"},
    )
    now = timezone.now()
    upcoming = maintenance_schedule(
        title="Database upgrade",
        scheduled_start=now + timedelta(days=1),
        scheduled_end=now + timedelta(days=1, hours=2),
        services=[cast.service, cast.internal_service],
        by=cast.owner,
        description="Short read-only period.",
    )
    active = maintenance_schedule(
        title="CDN migration", scheduled_start=now - timedelta(minutes=5), scheduled_end=now + timedelta(hours=1), services=[web], by=cast.owner
    )
    maintenance_change_status(window=active, status="in_progress", by=cast.owner)
    hidden = maintenance_schedule(
        title="Internal capacity work",
        scheduled_start=now - timedelta(minutes=5),
        scheduled_end=now + timedelta(hours=1),
        services=[cast.service],
        by=cast.owner,
        visibility="internal",
    )
    maintenance_change_status(window=hidden, status="in_progress", by=cast.owner)
    return {"public": public, "internal": internal, "web": web, "group": group, "upcoming": upcoming, "active": active}
