"""The registry is the one place that knows the kinds: every kind has an adapter,
and every adapter's receiver, sample and parser agree with one another. The wiring
is explicit: subscriptions are made by IncidentsConfig.ready(), once however often
it runs, and the pipeline enqueues its task by name, never importing the task module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from celery import current_app
from django.apps import apps
from django.db.models.signals import pre_delete
from django.urls import resolve
from django.utils import timezone

from incidents import events
from incidents.integrations import tasks
from incidents.integrations.pipeline import receive, registry
from incidents.integrations.pipeline.adapter import Parsing
from incidents.integrations.pipeline.receive import load_json
from incidents.models import IntegrationKind, Severity

INTEGRATIONS = Path(__file__).resolve().parent.parent
INCIDENTS = INTEGRATIONS.parent


def test_every_kind_has_exactly_one_adapter() -> None:
    assert sorted(registry.ADAPTERS) == sorted(IntegrationKind.values)
    assert all(kind == adapter.kind for kind, adapter in registry.ADAPTERS.items())


@pytest.mark.parametrize("kind", IntegrationKind.values)
def test_an_adapters_sample_is_valid_and_parses_into_an_alert(kind: str) -> None:
    adapter = registry.adapter_for(kind)
    body, _assigned = adapter.sample_body()
    payload = load_json(body)
    assert adapter.validate(payload) == []
    signals = adapter.parse(payload, Parsing(received_at=timezone.now(), assigned_key="k"))
    assert len(signals) == 1 and signals[0].status == "firing" and signals[0].fingerprint


@pytest.mark.parametrize("kind", IntegrationKind.values)
def test_an_adapters_receiver_path_reaches_one_of_its_own_views(kind: str) -> None:
    adapter = registry.adapter_for(kind)
    own = {pattern.callback for pattern in adapter.urls()}
    assert resolve(adapter.receiver_path("T0KEN")).func in own


def test_the_unknown_kind_is_refused_by_name() -> None:
    with pytest.raises(LookupError, match="nagios"):
        registry.adapter_for("nagios")


def test_ready_can_run_twice_and_subscribes_once() -> None:
    subscribers_before = list(events._subscribers)
    receivers_before = len(pre_delete._live_receivers(Severity)[0])
    config = apps.get_app_config("incidents")
    config.ready()
    config.ready()
    assert events._subscribers == subscribers_before
    names = [f"{f.__module__}.{f.__qualname__}" for f in subscribers_before]
    assert len(names) == len(set(names))
    # live pages, status subscribers, paging, status snapshot (and other apps' own, such as runbooks' checklists)
    assert {"incidents.live.on_event", "incidents.notify.announce.on_event", "incidents.oncall.subscriber.on_event",
            "incidents.public.rebuild.on_event"} <= set(names)  # fmt: skip
    assert len(pre_delete._live_receivers(Severity)[0]) == receivers_before


def test_the_task_is_registered_under_the_name_the_pipeline_enqueues() -> None:
    assert tasks.process_delivery.name == receive.PROCESS_DELIVERY
    # What `receive.enqueue` sends resolves to this task, not to an unknown name.
    assert current_app.signature(receive.PROCESS_DELIVERY).type.run is tasks.process_delivery.run


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_service_imports_its_task_module() -> None:
    """Services enqueue by task name: a task module imports its services, never the reverse."""
    modules = [*sorted((INTEGRATIONS / "pipeline").glob("*.py")), INTEGRATIONS / "services.py", INCIDENTS / "public" / "rebuild.py"]
    for path in modules:
        imported = _imports(path)
        assert "incidents.integrations.tasks" not in imported, path
        assert "incidents.public.tasks" not in imported, path


def test_no_receiver_imports_another_kinds_view() -> None:
    kinds = [p.parent.name for p in INTEGRATIONS.glob("*/adapter.py")]
    for kind in kinds:
        for path in (INTEGRATIONS / kind).glob("*.py"):
            others = {f"incidents.integrations.{other}.views" for other in kinds if other != kind}
            assert not others & _imports(path), path
