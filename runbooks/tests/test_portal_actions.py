"""Actions beyond Kubernetes, run by the executor against local servers: an HTTP
request to a configured endpoint (through the connect-time address check), a public
update and a maintenance window through the incident core, a probe through health."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from incidents.models import MaintenanceWindow, PublicUpdate
from portal.errors import ValidationFailed
from portal.tests.factories import declare
from runbooks import executor
from runbooks.models import Run, StepRun, StepState
from runbooks.services import StepInput, endpoint_save, run_start, runbook_save

S = StepState


@dataclass
class Receiver:
    url: str = ""
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A local HTTP server that records every request and answers `status`."""
    box = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
            box.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            data = b'{"status": "healthy"}'
            self.send_response(box.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def run_one(by: Any, action: str, parameters: dict[str, Any], *, incident: Any = None, dry_run: bool = False,
            more: list[StepInput] | None = None) -> Run:  # fmt: skip
    """Start a runbook of automated steps and execute them in order, as a worker would."""
    steps = [StepInput(title=action, kind="automated", action=action, parameters=parameters), *(more or [])]
    run = run_start(runbook=runbook_save(title=action, by=by, steps=steps), by=by, incident=incident, dry_run=dry_run)
    for sr in run.step_runs.order_by("order"):
        sr.refresh_from_db()
        if sr.state == S.APPROVED:
            executor.step_execute(sr.pk)
    return run


def states(run: Run) -> list[str]:
    return list(run.step_runs.order_by("order").values_list("state", flat=True))


def test_an_http_step_calls_the_configured_endpoint_once_with_its_headers_and_key(cast: Any) -> None:
    with receiver() as box:
        endpoint_save(name="ops", url=box.url + "/api", headers={"Authorization": "Bearer s3cret"}, by=cast.owner)
        run = run_one(cast.owner, "http.request", {"endpoint": "ops", "method": "POST", "path": "/flush?cache=all",
                                                   "body": {"service": "api"}})  # fmt: skip
        assert states(run) == [S.SUCCEEDED]
        [(method, path, headers, body)] = box.requests
        sr = run.step_runs.get()
        assert (method, path, json.loads(body)) == ("POST", "/api/flush?cache=all", {"service": "api"})
        assert headers["authorization"] == "Bearer s3cret" and headers["idempotency-key"] == sr.idempotency_key
        assert "s3cret" not in sr.output + json.dumps(sr.before) + json.dumps(sr.after)
        assert executor.step_execute(sr.pk) == "not claimed"  # a second delivery sends nothing
        assert len(box.requests) == 1


def test_an_http_step_fails_on_an_unexpected_status_and_a_dry_run_sends_nothing(cast: Any) -> None:
    with receiver() as box:
        endpoint_save(name="ops", url=box.url, by=cast.owner)
        box.status = 503
        assert states(run_one(cast.owner, "http.request", {"endpoint": "ops", "path": "/ready"})) == [S.FAILED]
        run = run_one(cast.owner, "http.request", {"endpoint": "ops", "method": "DELETE", "path": "/cache"}, dry_run=True)
        assert states(run) == [S.SUCCEEDED] and "Dry run: would send DELETE" in run.step_runs.get().output
        assert [r[0] for r in box.requests] == ["GET"]


def test_an_http_step_never_connects_to_a_denied_address_or_leaves_its_endpoint(cast: Any, settings: Any) -> None:
    with receiver() as box:
        settings.NOTIFY_DENY_NETWORKS = ["127.0.0.0/8", "::1/128"]
        with pytest.raises(ValidationFailed):  # a literal address: refused when it is saved...
            endpoint_save(name="ops", url=box.url, by=cast.owner)
        endpoint_save(name="ops", url=box.url.replace("127.0.0.1", "localhost"), by=cast.owner)
        run = run_one(cast.owner, "http.request", {"endpoint": "ops", "path": "/x"})
        assert states(run) == [S.FAILED] and "deny list" in run.step_runs.get().error  # ...a name when it is resolved
        settings.NOTIFY_DENY_NETWORKS = []
        endpoint_save(name="ops", url=box.url, by=cast.owner)
        run = run_one(cast.owner, "http.request", {"endpoint": "ops", "path": "/../admin"})
        assert states(run) == [S.FAILED]
        assert box.requests == []
    with pytest.raises(ValidationFailed):
        endpoint_save(name="meta", url="http://169.254.169.254/latest", by=cast.owner)


def test_parameters_are_checked_against_each_actions_schema(cast: Any) -> None:
    bad: list[tuple[str, dict[str, Any]]] = [("http.request", {"endpoint": "ops", "method": "TRACE"}), ("http.request", {"url": "http://x"}),
           ("incident.post_update", {"body": ""}), ("maintenance.start", {"title": "x"}),
           ("probe.assert", {"probe": 1, "expect": "fine"})]  # fmt: skip
    for action, parameters in bad:
        with pytest.raises(ValidationFailed):
            runbook_save(title="Bad", by=cast.owner, steps=[StepInput(title="x", kind="automated", action=action, parameters=parameters)])


def test_a_step_posts_a_public_update_through_the_incident_core(cast: Any) -> None:
    incident = declare(by=cast.responder, visibility="public")
    run = run_one(cast.responder, "incident.post_update", {"body": "Mitigated on {{ incident }}", "status": "monitoring"},
                  incident=incident)  # fmt: skip
    assert states(run) == [S.SUCCEEDED]
    update = PublicUpdate.objects.get(incident=incident)
    assert (update.body, update.status) == (f"Mitigated on INC-{incident.pk}", "monitoring")
    drill = run_one(cast.responder, "incident.post_update", {"body": "x"})
    assert states(drill) == [S.FAILED] and "drill" in drill.step_runs.get().error
    dry = run_one(cast.responder, "incident.post_update", {"body": "not posted"}, incident=incident, dry_run=True)
    assert states(dry) == [S.SUCCEEDED] and PublicUpdate.objects.filter(incident=incident).count() == 1


def test_a_run_opens_a_maintenance_window_and_a_later_step_ends_it(cast: Any) -> None:
    run = run_one(cast.owner, "maintenance.start", {"title": "Failover", "services": [cast.service.slug], "minutes": 30},
                  more=[StepInput(title="End", kind="automated", action="maintenance.end")])  # fmt: skip
    assert states(run) == [S.SUCCEEDED, S.SUCCEEDED]
    window = MaintenanceWindow.objects.get()
    assert window.status == "completed" and list(window.services.all()) == [cast.service]
    assert run.step_runs.get(order=2).after == {"window": window.pk, "status": "completed"}
    assert states(run_one(cast.owner, "maintenance.end", {})) == [S.FAILED]  # nothing started: nothing ended


def test_a_probe_step_runs_the_probe_now_and_asserts_its_outcome(cast: Any) -> None:
    from health.services import probe_create

    with receiver() as box:
        probe = probe_create(by=None, service=cast.service, name="API", kind="http", target={"url": f"{box.url}/health"},
                             conditions=["[STATUS] == 200"], timeout_seconds=2.0)  # fmt: skip
        assert states(run_one(cast.owner, "probe.assert", {"probe": probe.pk})) == [S.SUCCEEDED]
        box.status = 500
        run = run_one(cast.owner, "probe.assert", {"probe": probe.pk, "expect": "up"})
        assert states(run) == [S.FAILED] and "expected up" in run.step_runs.get().output
        assert states(run_one(cast.owner, "probe.assert", {"probe": probe.pk, "expect": "down"})) == [S.SUCCEEDED]
        assert len(box.requests) == 3
    assert StepRun.objects.filter(action="probe.assert").count() == 3
