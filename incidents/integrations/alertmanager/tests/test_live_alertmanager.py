"""End to end with the real Prometheus Alertmanager (Debian package `prometheus-alertmanager`).

Alertmanager runs on 127.0.0.1 with a generated configuration whose `webhook_configs`
and `pagerduty_configs` (its `url` set to the portal's enqueue endpoint) point at a
live portal server; alerts posted to Alertmanager's v2 API must open, group and
resolve incidents through both routes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incidents.integrations.tests.helpers import fixture, make
from incidents.models import Alert, Delivery, Incident, IncidentStatus, IntegrationKind
from portal.celery import app as celery_app

BINARY = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
HAVE_BINARY = os.path.exists(BINARY)

pytestmark = pytest.mark.skipif(
    not HAVE_BINARY and not os.environ.get("REQUIRE_ALERTMANAGER"),
    reason="prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager); set REQUIRE_ALERTMANAGER=1 to make this a failure",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Start Alertmanager with the given YAML; returns its base URL."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(config: str) -> str:
        assert HAVE_BINARY, f"REQUIRE_ALERTMANAGER is set but {BINARY} is missing"
        (tmp_path / "alertmanager.yml").write_text(config)
        port = free_port()
        log = (tmp_path / "alertmanager.log").open("wb")
        process = subprocess.Popen(
            [BINARY, f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=info"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(process)
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            assert process.poll() is None, (tmp_path / "alertmanager.log").read_text()
            try:
                return urllib.request.urlopen(f"{base}/-/ready", timeout=1).status == 200
            except OSError:
                return False

        wait_for(ready, 15, "Alertmanager to start")
        return base

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


# Objects whose keys are data (label names), not part of the format.
MAPS = {"labels", "annotations", "groupLabels", "commonLabels", "commonAnnotations"}


def shape(value: object, key: str = "") -> object:
    """The format of a JSON document: field names and value types, with label
    maps reduced to "a map of strings" and lists to their items' shape."""
    if isinstance(value, dict):
        if key in MAPS:
            return {"<map>": sorted({type(v).__name__ for v in value.values()}) or ["str"]}
        return {k: shape(v, k) for k, v in sorted(value.items())}
    if isinstance(value, list):
        shapes = {json.dumps(shape(item), sort_keys=True) for item in value}
        return [json.loads(s) for s in sorted(shapes)]
    return type(value).__name__


def post_alerts(base: str, alerts: list[dict]) -> None:
    request = urllib.request.Request(
        f"{base}/api/v2/alerts", data=json.dumps(alerts).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    assert urllib.request.urlopen(request, timeout=5).status == 200


def test_alertmanager_opens_groups_and_resolves_incidents_through_both_routes(
    live_server, seeded_transactional_db, eager_tasks, alertmanager
) -> None:
    webhook, webhook_token = make(IntegrationKind.ALERTMANAGER, name="am-webhook")
    pagerduty, routing_key = make(IntegrationKind.PAGERDUTY_EVENTS_V2, name="am-pagerduty")
    config = f"""
global:
  resolve_timeout: 1m
route:
  receiver: portal
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 300ms
  repeat_interval: 1h
receivers:
- name: portal
  webhook_configs:
  - url: {live_server.url}/integrations/alertmanager/
    send_resolved: true
    http_config:
      authorization:
        type: Bearer
        credentials: {webhook_token}
  pagerduty_configs:
  - routing_key: {routing_key}
    url: {live_server.url}/integrations/pagerduty/v2/enqueue
    send_resolved: true
    severity: '{{{{ .CommonLabels.severity }}}}'
"""
    base = alertmanager(config)
    started = datetime.now(UTC) - timedelta(seconds=5)
    alerts = [
        {"labels": {"alertname": "DiskFull", "instance": f"db-{n}", "severity": "critical"},
         "annotations": {"summary": f"Disk full on db-{n}"}, "startsAt": rfc3339(started)}
        for n in (1, 2)
    ]  # fmt: skip
    post_alerts(base, alerts)

    def both_open() -> bool:
        return (
            Alert.objects.filter(integration=webhook, status="firing").count() == 2
            and Incident.objects.filter(alert_groups__integration=pagerduty).exists()
        )

    wait_for(both_open, 30, "incidents to open through both routes")
    # The fixtures the other tests use have the format of what this Alertmanager sent.
    sent = json.loads(Delivery.objects.filter(integration=webhook).earliest("received_at").body)
    assert shape(sent) == shape(json.loads(fixture("alertmanager", "firing.json")))
    assert sent["version"] == "4" and sent["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    webhook_incident = Incident.objects.get(alert_groups__integration=webhook)
    pagerduty_incident = Incident.objects.get(alert_groups__integration=pagerduty)
    assert webhook_incident.pk != pagerduty_incident.pk
    assert webhook_incident.severity.name == "SEV1" and pagerduty_incident.severity.name == "SEV1"
    # Grouped: the two alerts share the webhook route's incident; PagerDuty gets one event per group.
    assert set(Alert.objects.filter(integration=webhook).values_list("incident_id", flat=True)) == {webhook_incident.pk}
    assert Alert.objects.filter(integration=pagerduty).count() == 1

    ended = datetime.now(UTC)
    post_alerts(base, [{**alert, "endsAt": rfc3339(ended)} for alert in alerts])

    def both_resolved() -> bool:
        return not Incident.objects.exclude(status=IncidentStatus.RESOLVED).exists()

    wait_for(both_resolved, 30, "incidents to resolve through both routes")
    resolved = json.loads(Delivery.objects.filter(integration=webhook).latest("received_at").body)
    assert resolved["status"] == "resolved"
    assert shape(resolved) == shape(json.loads(fixture("alertmanager", "resolved.json")))
    assert set(Alert.objects.values_list("status", flat=True)) == {"resolved"}
    assert Incident.objects.count() == 2
    assert not Delivery.objects.exclude(status="processed").exists()
    agents = set(Delivery.objects.values_list("headers__user-agent", flat=True))
    assert all(agent.startswith("Alertmanager/") for agent in agents)


README = Path(__file__).resolve().parents[4] / "README.md"


def readme_after_snippet() -> str:
    """The README's migrated `service_key` route, exactly as documented."""
    text = README.read_text()
    marker = text.index("<!-- alertmanager-service-key-after -->")
    start = text.index("```yaml\n", marker) + len("```yaml\n")
    return text[start : text.index("```", start)]


def test_the_readmes_migrated_service_key_route_reaches_the_portal(live_server, seeded_transactional_db, eager_tasks, alertmanager) -> None:
    import yaml

    integration, key = make(IntegrationKind.PAGERDUTY_EVENTS_V2, name="am-migrated")
    snippet = readme_after_snippet()
    assert "service_key" not in snippet and "routing_key: PORTAL_INTEGRATION_KEY_32_CHARS_" in snippet
    config = yaml.safe_load(snippet.replace("https://portal.example.com", live_server.url).replace("PORTAL_INTEGRATION_KEY_32_CHARS_", key))
    # Only the timings are the test's own, so that it runs in seconds.
    config["global"]["resolve_timeout"] = "1m"
    config["route"] = {"receiver": "pager", "group_by": ["alertname"], "group_wait": "100ms", "group_interval": "300ms", "repeat_interval": "1h"}
    base = alertmanager(yaml.safe_dump(config))
    alert = {"labels": {"alertname": "QueueStuck", "queue": "billing"}, "annotations": {"summary": "Billing queue stuck"},
             "startsAt": rfc3339(datetime.now(UTC) - timedelta(seconds=5))}  # fmt: skip
    post_alerts(base, [alert])
    wait_for(lambda: Incident.objects.filter(alert_groups__integration=integration).exists(), 30, "the migrated route to open an incident")
    incident = Incident.objects.get(alert_groups__integration=integration)
    assert incident.title.startswith("[FIRING:1] QueueStuck")
    assert incident.severity.name == "SEV2"  # v2's default severity "error", mapped by convention
    post_alerts(base, [{**alert, "endsAt": rfc3339(datetime.now(UTC))}])
    wait_for(lambda: Incident.objects.filter(pk=incident.pk, status=IncidentStatus.RESOLVED).exists(), 30, "the migrated route to resolve it")
    assert not Delivery.objects.exclude(status="processed").exists()
