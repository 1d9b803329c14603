"""Each kind of probe against a real server on 127.0.0.1, through the engine."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import pytest

from health import engine
from health.probes import Spec
from health.probes.kubernetes import rollout_status
from health.tests.servers import DEPLOYMENT, DnsServer, HealthServer, free_port, tcp_listener, tls_server


def run(kind: str, target: dict[str, Any], conditions: list[str] | None = None, *, credentials: dict[str, Any] | None = None,
        timeout: float = 3.0) -> engine.Run:  # fmt: skip
    spec = Spec(1, kind, target, credentials or {}, conditions or [], timeout, datetime.now(UTC))
    runs, problem = engine.run_batch([spec])
    assert problem == ""
    return runs[0]


HEALTH_CONDITIONS = [
    "[STATUS] == 200",
    '[BODY].status != "unhealthy"',
    '[BODY].checks.database.status != "unhealthy"',
    'degraded: [BODY].status == "healthy"',
    "degraded: [RESPONSE_TIME] < 300",
]


@pytest.mark.parametrize(
    ("mode", "delay", "outcome"),
    [("healthy", 0, "up"), ("degraded", 0, "degraded"), ("unhealthy", 0, "down"), ("wrong_json", 0, "down"), ("healthy", 0.4, "degraded")],
)
def test_an_http_probe_reads_the_health_document(server: HealthServer, mode: str, delay: float, outcome: str) -> None:
    server.mode, server.delay = mode, delay
    result = run("http", {"url": f"{server.url}/health"}, HEALTH_CONDITIONS)
    assert result.outcome == outcome, result
    assert [e["condition"] for e in result.evaluations] == HEALTH_CONDITIONS
    if mode == "wrong_json":
        body_checks = [e for e in result.evaluations if e["condition"].startswith("[BODY]")]
        assert all(not e["ok"] and "not JSON" in e["error"] for e in body_checks)
    if mode == "unhealthy":
        assert result.evaluations[0] == {"condition": "[STATUS] == 200", "level": "down", "ok": False, "actual": 503}
        assert result.values["STATUS"] == 503


def test_a_slow_target_past_the_timeout_is_down(server: HealthServer) -> None:
    server.delay = 1.5
    result = run("http", {"url": f"{server.url}/health"}, timeout=0.3)
    assert result.outcome == "down"
    assert result.message == "Timed out."
    assert result.response_time_ms is not None and result.response_time_ms < 1000


def test_http_sends_method_headers_body_and_secret_headers(server: HealthServer) -> None:
    result = run(
        "http",
        {"url": f"{server.url}/health", "method": "POST", "headers": {"X-Probe": "1"}, "body": '{"ping": true}'},
        credentials={"headers": {"Authorization": "Bearer s3cret"}},
    )
    assert result.outcome == "up"
    request = server.requests[-1]
    assert request["method"] == "POST" and request["body"] == '{"ping": true}'
    assert request["headers"]["X-Probe"] == "1" and request["headers"]["Authorization"] == "Bearer s3cret"


def test_redirects_are_followed_unless_turned_off(server: HealthServer) -> None:
    assert run("http", {"url": f"{server.url}/redirect"}, ["[STATUS] == 200"]).outcome == "up"
    result = run("http", {"url": f"{server.url}/redirect", "follow_redirects": False}, ["[STATUS] == 302"])
    assert result.outcome == "up"


def test_a_redirect_to_the_metadata_address_is_refused(server: HealthServer) -> None:
    result = run("http", {"url": f"{server.url}/redirect-to-metadata"})
    assert result.outcome == "down"
    assert result.message.startswith("Refused: 169.254.169.254 is a cloud metadata address")


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/meta-data/"])
def test_metadata_addresses_are_refused(url: str) -> None:
    result = run("http", {"url": url})
    assert result.outcome == "down" and "cloud metadata address" in result.message


def test_the_deny_list_applies_after_name_resolution(server: HealthServer, settings: Any) -> None:
    """`localhost` is not a denied string, but its address is: checked after resolution."""
    settings.HEALTH_PROBE_DENY = ["127.0.0.0/8", "::1/128"]
    for kind, target in [
        ("http", {"url": f"http://localhost:{server.port}/health"}),
        ("tcp", {"host": "localhost", "port": server.port}),
        ("postgres", {"host": "localhost", "port": 5432}),
        ("redis", {"host": "localhost", "port": 6379}),
    ]:
        result = run(kind, target)
        assert result.outcome == "down", kind
        assert result.message.startswith("Refused:") and "denied network" in result.message, (kind, result.message)
    assert server.requests == []


def test_tcp_connects_or_reports_down() -> None:
    with tcp_listener() as port:
        result = run("tcp", {"host": "127.0.0.1", "port": port})
        assert result.outcome == "up" and result.values["IP"] == "127.0.0.1"
    closed = run("tcp", {"host": "127.0.0.1", "port": free_port()})
    assert closed.outcome == "down" and "ConnectionRefusedError" in closed.message
    assert closed.evaluations == [{"condition": "[CONNECTED] == true", "level": "down", "ok": False, "actual": False}]


def test_tls_reads_the_certificate_expiry() -> None:
    with tls_server(days=2) as (port, pem):
        # verified against the certificate itself as the CA; two days left is under 72 h
        result = run("tls", {"host": "localhost", "port": port, "ca_pem": pem})
        assert result.outcome == "down"
        assert result.evaluations[0]["condition"] == "[CERTIFICATE_EXPIRATION] > 72h"
        remaining_hours = result.values["CERTIFICATE_EXPIRATION"] / 3_600_000
        assert 47.5 < remaining_hours <= 48
        assert run("tls", {"host": "localhost", "port": port, "ca_pem": pem}, ["[CERTIFICATE_EXPIRATION] > 24h"]).outcome == "up"
        # the system's CAs do not know a self-signed certificate
        unverified = run("tls", {"host": "localhost", "port": port}, ["[CERTIFICATE_EXPIRATION] > 1h"])
        assert unverified.outcome == "down" and "CERTIFICATE_VERIFY_FAILED" in unverified.message
        skipped = run("tls", {"host": "localhost", "port": port, "verify": False}, ["[CERTIFICATE_EXPIRATION] > 1h"])
        assert skipped.outcome == "up"


def test_dns_answers_and_rcodes() -> None:
    dns = DnsServer({("api.example.test", "A"): ["10.1.2.3"], ("api.example.test", "TXT"): ['"v=ok"']})
    try:
        base = {"nameserver": "127.0.0.1", "port": dns.port}
        result = run("dns", {**base, "name": "api.example.test", "expected_answer": "10.1.2.3"})
        assert result.outcome == "up", result
        assert result.values["DNS_ANSWERS"] == ["10.1.2.3"] and result.values["DNS_RCODE"] == "NOERROR"
        wrong = run("dns", {**base, "name": "api.example.test", "expected_answer": "10.9.9.9"})
        assert wrong.outcome == "down"
        missing = run("dns", {**base, "name": "nope.example.test"})
        assert missing.outcome == "down" and missing.values["DNS_RCODE"] == "NXDOMAIN"
        assert run("dns", {**base, "name": "nope.example.test", "expected_rcode": "NXDOMAIN"}).outcome == "up"
        txt = run("dns", {**base, "name": "api.example.test", "record_type": "TXT"}, ['[DNS_ANSWERS] contains "v=ok"'])
        assert txt.outcome == "up"
    finally:
        dns.stop()


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _postgres_reachable(), reason="no PostgreSQL on 127.0.0.1:5432")
def test_postgres_connects_and_queries() -> None:
    target = {"host": "127.0.0.1", "port": 5432, "dbname": "postgres", "user": "postgres"}
    result = run("postgres", {**target, "query": "SELECT 41 + 1"}, ["[CONNECTED] == true", "[RESULT] == 42"])
    assert result.outcome == "up", result
    # the query runs read-only: a probe cannot change the database it checks
    writing = run("postgres", {**target, "query": "CREATE TABLE probe_was_here (id int)"})
    assert writing.outcome == "down" and "read-only" in writing.message
    refused = run("postgres", {**target, "port": free_port()})
    assert refused.outcome == "down"


def test_redis_ping_and_role(redis_port: int) -> None:
    result = run("redis", {"host": "127.0.0.1", "port": redis_port, "expected_role": "master"})
    assert result.outcome == "up", result
    assert result.values["ROLE"] == "master"
    assert run("redis", {"host": "127.0.0.1", "port": redis_port, "expected_role": "slave"}).outcome == "down"
    assert run("redis", {"host": "127.0.0.1", "port": free_port()}).outcome == "down"


def test_kubernetes_readiness_through_the_official_client(server: HealthServer) -> None:
    # a generous timeout: the official client is slow to set up on a loaded machine
    target = {"namespace": "shop", "name": "api", "context": "stub"}
    credentials = {"kubeconfig": server.kubeconfig()}
    result = run("kubernetes", target, credentials=credentials, timeout=15)
    assert result.outcome == "up", result
    assert result.values["REPLICAS"] == 3
    assert server.requests[-1]["path"] == "/apis/apps/v1/namespaces/shop/deployments/api"
    server.deployment["status"]["updatedReplicas"] = 1
    rolling = run("kubernetes", target, credentials=credentials, timeout=15)
    assert rolling.outcome == "down"
    assert rolling.message == 'Waiting for deployment "api" rollout to finish: 1 out of 3 new replicas have been updated...'
    missing = run("kubernetes", {**target, "name": "nope"}, credentials=credentials, timeout=15)
    assert missing.outcome == "down" and "404" in missing.message
    denied = run("kubernetes", target, credentials={"kubeconfig": server.kubeconfig(token="wrong")}, timeout=15)
    assert denied.outcome == "down" and "401" in denied.message


@pytest.mark.parametrize(
    ("change", "ready", "message"),
    [
        ({}, True, 'deployment "api" successfully rolled out'),
        ({"metadata": {"generation": 5}}, False, "Waiting for deployment spec update to be observed..."),
        ({"status": {"replicas": 4}}, False, 'Waiting for deployment "api" rollout to finish: 1 old replicas are pending termination...'),
        ({"status": {"availableReplicas": 2}}, False, 'Waiting for deployment "api" rollout to finish: 2 of 3 updated replicas are available...'),
        ({"status": {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}}, False,
         'deployment "api" exceeded its progress deadline'),
    ],
)  # fmt: skip
def test_rollout_status_follows_kubectl(change: dict[str, Any], ready: bool, message: str) -> None:
    deployment = __import__("copy").deepcopy(DEPLOYMENT)
    for section, values in change.items():
        deployment[section].update(values)
    assert rollout_status(deployment) == (ready, message)


def test_a_failed_self_check_turns_the_batch_into_no_data(server: HealthServer) -> None:
    specs = [Spec(1, "http", {"url": f"{server.url}/health"}, {}, [], 3.0, datetime.now(UTC))]
    runs, problem = engine.run_batch(specs, self_check_target=f"tcp://127.0.0.1:{free_port()}")
    assert problem.startswith("self-check failed")
    assert runs[0].outcome == "no_data"
    assert server.requests == []
    runs, problem = engine.run_batch(specs, self_check_target=f"{server.url}/health")
    assert problem == "" and runs[0].outcome == "up"


def test_a_batch_runs_concurrently(server: HealthServer) -> None:
    server.delay = 0.3
    specs = [Spec(i, "http", {"url": f"{server.url}/health"}, {}, [], 3.0, datetime.now(UTC)) for i in range(50)]
    started = datetime.now(UTC)
    runs, _ = engine.run_batch(specs)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    assert [r.outcome for r in runs] == ["up"] * 50
    assert elapsed < 2.0  # one after another would take 15 s
