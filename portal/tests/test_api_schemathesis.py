"""The API keeps its OpenAPI contract under generated input (schemathesis).

Every operation of `/api/schema/`, as the app serves it, is called with generated
valid and invalid input, in-process through Django's WSGI handler, on the real
database, as a manager with a write token, against seeded incidents, services and
the rest. Half of the cases aim their path parameters at rows that exist, so that
detail pages, actions and deletes reach real objects. Any 5xx, any status code the
schema does not document, a wrong content type or a body that does not match the
schema fails the test, with one example of each problem.

The budget is `API_FUZZ_EXAMPLES` cases per operation and generation mode (default
6), with a fixed seed, so the run is short and repeatable; raise it for a deeper run.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.utils import timezone
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from incidents import services
from incidents.integrations import services as integration_services
from incidents.integrations.pipeline import process
from incidents.models import Alert, Impact, IntegrationKind, MessageTemplate, Severity, Visibility
from incidents.services.recurrence import maintenance_recurrence_create
from portal.models import ApiToken, TokenScope
from portal.tests.factories import ServiceFactory, ServiceGroupFactory, TeamFactory, UserFactory

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "6"))


def _seed() -> tuple[str, dict[tuple[str, str], list[str]]]:
    """Rows for every collection; returns the manager's token and, per (collection,
    path parameter), the values that name an existing row."""
    manager = UserFactory.create(username="fuzz-manager", role="manager")
    responder = UserFactory.create(username="fuzz-responder", role="responder")
    team = TeamFactory.create(slug="payments")
    team.members.add(manager, responder)
    group = ServiceGroupFactory.create(slug="core", name="Core")
    api = ServiceFactory.create(slug="api", name="Public API", group=group, team=team)
    db = ServiceFactory.create(slug="database", name="Database", group=group, visibility=Visibility.INTERNAL)
    ServiceFactory.create(slug="unused", name="Unused service")
    api.depends_on.set([db])
    sev1, sev2 = Severity.objects.get(name="SEV1"), Severity.objects.get(name="SEV2")
    first = services.incident_declare(
        title="Checkout is failing", severity=sev1, by=manager, visibility=Visibility.PUBLIC,
        impacts={api: Impact.MAJOR_OUTAGE}, commander=responder, tags=["payments"],
    )  # fmt: skip
    services.incident_add_note(incident=first, body="Looking at the load balancer", by=responder)
    services.incident_post_update(incident=first, body="We are investigating.", status=None, components={}, display_at=None, by=manager)
    second = services.incident_declare(title="Slow searches", severity=sev2, by=responder, impacts={db: Impact.DEGRADED_PERFORMANCE})
    services.incident_change_status(incident=second, status="resolved", by=responder)
    postmortem = services.postmortem_start(incident=second, by=manager)
    item = services.action_item_create(postmortem=postmortem, title="Add an index", by=manager, owner=responder)
    now = timezone.now()
    window = services.maintenance_schedule(
        title="Database upgrade", scheduled_start=now + timedelta(days=1), scheduled_end=now + timedelta(days=1, hours=2),
        services=[db], by=manager,
    )  # fmt: skip
    from health import services as health_services

    probe = health_services.probe_create(by=manager, service=api, name="API port", kind="tcp", target={"host": "127.0.0.1", "port": 9},
                                         timeout_seconds=1)  # fmt: skip
    integration, _secret = integration_services.integration_create(kind=IntegrationKind.ALERTMANAGER, name="prometheus", by=manager)
    integration_services.integration_send_sample(integration=integration, by=manager)
    process.delivery_process(delivery_id=integration.deliveries.get().pk)
    recurrence = maintenance_recurrence_create(
        title="Weekly patching", rule="FREQ=WEEKLY;BYDAY=TU", first_start=now + timedelta(days=2), duration=timedelta(hours=1),
        services=[db], by=manager,
    )  # fmt: skip
    _, raw = ApiToken.issue(user=manager, name="fuzz", scope=TokenScope.WRITE)
    spare, _ = ApiToken.issue(user=manager, name="spare", scope=TokenScope.READ)  # the one DELETE may revoke
    incident_refs = [first.reference, str(second.pk)]
    real = {
        ("incidents", "id"): incident_refs,
        ("incidents", "event_id"): [str(pk) for pk in first.timeline.values_list("pk", flat=True)],
        ("severities", "id"): [str(pk) for pk in Severity.objects.values_list("pk", flat=True)],
        ("services", "slug"): ["api", "database", "unused"],
        ("service-groups", "slug"): ["core"],
        ("message-templates", "id"): [str(pk) for pk in MessageTemplate.objects.values_list("pk", flat=True)] or ["1"],
        ("maintenance-windows", "id"): [str(window.pk)],
        ("postmortems", "id"): [str(postmortem.pk)],
        ("action-items", "id"): [str(item.pk)],
        ("teams", "slug"): ["payments"],
        ("users", "id"): [str(manager.pk), str(responder.pk)],
        ("tokens", "id"): [str(spare.pk)],
        ("probes", "id"): [str(probe.pk)],
        ("integrations", "id"): [str(integration.pk)],
        ("maintenance-recurrences", "id"): [str(recurrence.pk)],
        ("integrations", "delivery_id"): [str(pk) for pk in integration.deliveries.values_list("pk", flat=True)],
        ("alerts", "id"): [str(pk) for pk in Alert.objects.values_list("pk", flat=True)],
    }
    return raw, real


def _problem_key(case: Any, failure: Any, status: int) -> tuple[str, str, int]:
    return (f"{case.method.upper()} {case.path}", type(failure).__name__, status)


# Thousands of generated requests: minutes on a loaded machine, well past the per-test hang limit.
@pytest.mark.timeout(1200)
@pytest.mark.usefixtures("seeded_transactional_db")
def test_the_api_honours_its_openapi_schema_under_generated_input() -> None:
    token, real = _seed()
    auth = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())
    requests = 0
    statuses: Counter[int] = Counter()
    problems: dict[tuple[str, str, int], str] = {}
    violations = 0
    unsatisfiable: list[str] = []

    def run_operation(operation: Any, mode: GenerationMode) -> None:
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
        )
        @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
        def exercise(case: Any, data: Any) -> None:
            nonlocal requests, violations
            collection = case.path.split("/")[3]
            if case.path_parameters and data.draw(st.booleans()):
                for name in list(case.path_parameters):
                    values = real.get((collection, name))
                    if values:
                        case.path_parameters[name] = data.draw(st.sampled_from(values))
            response = case.call(headers=auth)
            requests += 1
            statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=auth)
            except FailureGroup as group:
                for failure in group.exceptions:
                    if response.status_code < 500 and not isinstance(failure, ServerError):
                        violations += 1  # an undocumented 500 counts once, as a server error
                    key = _problem_key(case, failure, response.status_code)
                    problems.setdefault(key, f"{failure.title}: {str(failure.message)[:300]}\n    body: {response.text[:300]!r}")

        try:
            exercise()
        except Unsatisfiable:
            # An operation that takes no input at all (the configuration export and its schema) has no
            # invalid input to generate; anything else must generate cases.
            assert mode == GenerationMode.NEGATIVE, f"no cases for {operation.method.upper()} {operation.path}"
            unsatisfiable.append(f"{operation.method.upper()} {operation.path}")

    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run_operation(operation, mode)

    server_errors = sum(count for status, count in statuses.items() if status >= 500)
    summary = f"{requests} requests, {server_errors} server errors, {violations} schema violations"
    print(f"\nschemathesis: {summary}; statuses {dict(sorted(statuses.items()))}")
    report = "\n".join(f"{op} [{status}] {kind}\n    {detail}" for (op, kind, status), detail in sorted(problems.items()))
    assert not problems, f"{summary}\n{report}"
    assert requests > 100
    assert set(unsatisfiable) <= {"GET /api/v1/config/", "GET /api/v1/config/schema.json"}, unsatisfiable
