"""Read rules with one home: a service's status, the response-target breach, the
dashboard's rows. Pages, API and the public snapshot use these, not copies."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from incidents import selectors, services
from incidents.models import Impact
from incidents.public.data import load_public_data
from portal.tests.factories import ServiceFactory, declare


def test_derive_service_statuses_takes_the_worst_open_impact_then_maintenance() -> None:
    derived = selectors.derive_service_statuses(
        [(1, "degraded_performance"), (1, "major_outage"), (1, "partial_outage"), (2, "operational"), (3, "degraded_performance")],
        [3, 4, 4],
    )
    assert derived == {1: "major_outage", 3: "degraded_performance", 4: "under_maintenance"}


@pytest.mark.django_db
def test_responders_and_the_status_page_derive_status_the_same_way_from_what_each_sees(cast: Any, snapshot_dir: Any) -> None:
    web = ServiceFactory.create(slug="web", name="Web")
    declare(by=cast.owner, visibility="public", impacts={cast.service: "degraded_performance"})
    declare(by=cast.owner, visibility="internal", impacts={cast.service: "major_outage", web: "partial_outage"})
    start = timezone.now() - timedelta(minutes=5)
    window = services.maintenance_schedule(
        title="Upgrade", scheduled_start=start, scheduled_end=start + timedelta(hours=1), services=[web], by=cast.owner
    )
    services.maintenance_change_status(window=window, status="in_progress", by=cast.owner)

    responders = selectors.service_statuses()
    assert responders[cast.service.pk] == "major_outage" and responders[web.pk] == "partial_outage"
    public = {c.service.pk: c.status for c in load_public_data().components}
    # The internal incident is not the public's business: the public impact, and
    # maintenance where no public incident touches the service.
    assert public[cast.service.pk] == "degraded_performance"
    assert public[web.pk] == "under_maintenance"


@pytest.mark.django_db
def test_the_breach_rule_is_the_same_for_pages_and_api(cast: Any, api: Any) -> None:
    incident = declare(by=cast.owner, sev="SEV1")
    target = incident.severity.response_target
    before, after = incident.started_at + target - timedelta(seconds=1), incident.started_at + target + timedelta(seconds=1)
    assert incident.response_target_breached(before) is False
    assert incident.response_target_breached(after) is True
    [marked] = selectors.with_timers([incident], after)
    assert marked.response_breached is True  # type: ignore[attr-defined]
    # Acknowledged in time: met for good, whatever the clock says later.
    services.incident_acknowledge(incident=incident, by=cast.responder)
    incident.refresh_from_db()
    assert incident.response_target_breached(after + timedelta(days=30)) is False
    body = api.as_(cast.owner).get(f"/api/v1/incidents/INC-{incident.pk}/").json()
    assert body["response_target_breached"] is False


def test_duration_text() -> None:
    assert selectors.duration_text(timedelta(seconds=59)) == "0m"
    assert selectors.duration_text(timedelta(minutes=45)) == "45m"
    assert selectors.duration_text(timedelta(days=1, hours=2, minutes=5)) == "1d 2h 5m"


@pytest.mark.django_db
def test_the_service_board_groups_services_with_their_status(cast: Any) -> None:
    declare(by=cast.owner, impacts={cast.internal_service: "partial_outage"})
    [ungrouped] = selectors.service_board()
    rows = {row["service"].slug: (row["status"], row["label"]) for row in ungrouped["services"]}
    assert rows == {"api": (Impact.OPERATIONAL, "Operational"), "billing-worker": ("partial_outage", "Partial outage")}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_reads_do_not_depend_on_the_api_or_on_other_views() -> None:
    root = Path(__file__).resolve().parents[1]
    assert not any(name.startswith("incidents.api") for name in _imports(root / "selectors.py"))
    for view in (root / "views").glob("*.py"):
        private = {n for n in _imports(view) if n.startswith("incidents.views.") and n.rsplit(".", 1)[1].startswith("_")}
        private -= {n for n in private if n.startswith("incidents.views.common.")}  # the shared view helpers
        assert not private, f"{view.name} imports private names of another view: {private}"
