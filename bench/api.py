"""API benchmark on PostgreSQL: 100,000 incidents and 1,000,000 timeline events.

    .venv/bin/python bench/api.py                 # load once (reused later), then measure
    .venv/bin/python bench/api.py --reload        # drop and load the database again
    .venv/bin/python bench/api.py --seconds 5     # shorter runs

It creates its own database (`bench_api` by default on BENCH_POSTGRES_URL,
postgres://postgres@127.0.0.1:5432), migrates it, loads the data with COPY, starts
the real web server (uvicorn on portal.asgi:application, the command `runportal`
uses) against it and Redis DBs 12-14, and measures with 16 concurrent clients
holding an API token: the incident list (plain, ?open=true, ?severity=SEV1), an
incident's detail, a timeline's first page and a deep cursor page of a timeline
with 20,000 events. It prints requests per second and p50/p99 per endpoint, and
the same for Django's trivial liveness view as a reference (compare ratios when
the machine is shared).

The load generator is `wrk` when installed (apt-get install wrk), else an
aiohttp client in a separate process: see bench/loadgen.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report  # noqa: E402
import loadgen  # noqa: E402

INCIDENTS = 100_000
EVENTS = 1_000_000
OPEN_INCIDENTS = 300
# A few incidents with long timelines (an alert storm, a week-long outage): the
# timeline's cursor must stay fast however deep a page is.
GIANT_INCIDENTS = {20_000: 10, 2_000: 90}
TARGET_P99_MS = 50.0
REFERENCE = "trivial view (reference)"
SEED = 20_240_601

SERVICES = [
    ("edge", "Edge", [("cdn", "CDN", "public"), ("dns", "DNS", "public"), ("waf", "Web firewall", "internal")]),
    ("core", "Core", [("api", "Public API", "public"), ("web", "Web app", "public"), ("auth", "Login", "public"),
                      ("search", "Search", "public"), ("notifications", "Notifications", "public")]),
    ("payments", "Payments", [("checkout", "Checkout", "public"), ("billing", "Billing", "public"),
                              ("billing-worker", "Billing worker", "internal"), ("invoices", "Invoices", "public")]),
    ("data", "Data", [("postgres", "PostgreSQL cluster", "internal"), ("redis", "Redis", "internal"),
                      ("kafka", "Kafka", "internal"), ("warehouse", "Warehouse", "internal"),
                      ("exports", "Data exports", "public")]),
]  # fmt: skip
SYMPTOMS = [
    "elevated error rate", "high latency", "partial outage", "unavailable in eu-west", "timeouts on writes",
    "degraded performance", "failed deploy", "certificate expiry", "queue backlog", "stale data",
]  # fmt: skip
TAGS = ["deploy", "database", "network", "third-party", "capacity", "config", "security", "dns", "customer-reported",
        "alert-storm", "rollback", "regression"]  # fmt: skip
SEVERITY_WEIGHTS = {"SEV1": 3, "SEV2": 12, "SEV3": 35, "SEV4": 50}
IMPACTS = ["degraded_performance", "partial_outage", "major_outage", "under_maintenance"]
OPEN_STATUSES = ["investigating", "identified", "monitoring"]
EVENT_KINDS = ["note"] * 5 + ["alert"] * 3 + ["status_change", "severity_change", "role_change", "impact_change",
                                               "public_update", "probe", "runbook_step", "system"]  # fmt: skip
DETAILS = {
    "declared": '{"severity": "SEV3"}',
    "status_change": '{"from": "investigating", "to": "identified"}',
    "severity_change": '{"from": "SEV3", "to": "SEV2"}',
    "role_change": '{"role": "commander", "from": null, "to": 7}',
    "impact_change": '{"service": "api", "from": "operational", "to": "partial_outage"}',
    "public_update": '{"status": "identified"}',
    "alert": '{"source": "alertmanager", "fingerprint": "c0ffee42", "labels": {"alertname": "HighErrorRate", "severity": "page"}}',
    "probe": '{"probe": "api-https", "result": "fail", "latency_ms": 5000}',
    "runbook_step": '{"run": 12, "step": "restart deployment", "outcome": "ok"}',
    "system": "{}",
    "note": "{}",
}
BODIES = {
    "note": "Looking at the dashboards; error rate is concentrated on one availability zone.",
    "alert": "HighErrorRate firing: 5xx ratio above 5% for 5 minutes.",
    "system": "Escalated to the secondary on-call.",
}


# --- database ---------------------------------------------------------------------
def admin_url(base: str) -> str:
    return f"{base.rstrip('/')}/postgres"


def prepare_database(base: str, name: str, *, reload: bool) -> bool:
    """Create the database when missing or not fully loaded. True when it must be loaded."""
    import psycopg

    with psycopg.connect(admin_url(base), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None
        if exists and not reload:
            try:
                with psycopg.connect(f"{base.rstrip('/')}/{name}") as db:
                    incidents = db.execute("SELECT count(*) FROM incidents_incident").fetchone()[0]  # type: ignore[index]
                    events = db.execute("SELECT count(*) FROM incidents_timelineevent").fetchone()[0]  # type: ignore[index]
                if incidents == INCIDENTS and events == EVENTS:
                    print(f"reusing database {name}: {incidents:,} incidents, {events:,} timeline events")
                    return False
            except psycopg.Error:
                pass
        print(f"creating database {name}")
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return True


def load(dsn: str) -> None:
    """Load the catalogue, people, incidents, impacts, roles, tags and timeline with COPY."""
    import psycopg

    rng = random.Random(SEED)
    began = time.monotonic()
    now = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(dsn) as conn:
        severities: dict[str, int] = dict(conn.execute("SELECT name, id FROM incidents_severity").fetchall())
        missing = set(SEVERITY_WEIGHTS) - set(severities)
        if missing:
            raise SystemExit(f"severities {sorted(missing)} are missing: did migration 0002 run?")

        # People: bench users hold roles and write timeline events.
        users = []
        with conn.cursor().copy(
            "COPY auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,"
            " date_joined) FROM STDIN"
        ) as copy:
            for i in range(60):
                copy.write_row(["!", False, f"responder{i:02d}", "Responder", f"No. {i}", "", False, True, now])
        users = [row[0] for row in conn.execute("SELECT id FROM auth_user WHERE username LIKE %s", ["responder%"])]
        with conn.cursor().copy("COPY portal_membership (user_id, role) FROM STDIN") as copy:
            for user_id in users:
                copy.write_row([user_id, "responder"])

        # Catalogue.
        service_ids: list[int] = []
        for order, (group_slug, group_name, services) in enumerate(SERVICES):
            group_id = conn.execute(
                "INSERT INTO incidents_servicegroup (slug, name, description, display_order, created_at, updated_at)"
                " VALUES (%s, %s, '', %s, %s, %s) RETURNING id",
                [group_slug, group_name, order, now, now],
            ).fetchone()[0]  # type: ignore[index]
            for position, (slug, name, visibility) in enumerate(services):
                service_ids.append(
                    conn.execute(
                        "INSERT INTO incidents_service (slug, name, description, visibility, display_order, created_at,"
                        " updated_at, group_id, observed_status) VALUES (%s, %s, '', %s, %s, %s, %s, %s, '') RETURNING id",
                        [slug, name, visibility, order * 10 + position, now, now, group_id],
                    ).fetchone()[0]  # type: ignore[index]
                )
        service_names: dict[int, str] = dict(conn.execute("SELECT id, name FROM incidents_service").fetchall())
        tag_ids = [
            conn.execute("INSERT INTO incidents_tag (name) VALUES (%s) RETURNING id", [tag]).fetchone()[0]  # type: ignore[index]
            for tag in TAGS
        ]

        # Incidents: ids 1..N in time order over three years; the newest few hundred
        # (and a handful of forgotten old ones) are still open.
        first = now - timedelta(days=3 * 365)
        step = (now - first - timedelta(hours=2)) / INCIDENTS
        open_ids = set(range(INCIDENTS - OPEN_INCIDENTS + 20, INCIDENTS + 1)) | set(rng.sample(range(1, INCIDENTS), 20))
        sev_names = list(SEVERITY_WEIGHTS)
        sev_weights = list(SEVERITY_WEIGHTS.values())
        starts: dict[int, datetime] = {}
        with conn.cursor().copy(
            "COPY incidents_incident (id, title, summary, status, visibility, started_at, acknowledged_at, identified_at,"
            " mitigated_at, resolved_at, created_at, updated_at, created_by_id, severity_id) FROM STDIN"
        ) as copy:
            for pk in range(1, INCIDENTS + 1):
                started = first + step * pk + timedelta(seconds=rng.randrange(0, 600))
                starts[pk] = started
                service = rng.choice(service_ids)
                title = f"{service_names[service]}: {rng.choice(SYMPTOMS)}"
                ack = started + timedelta(seconds=rng.randrange(30, 1800))
                if pk in open_ids:
                    status = rng.choice(OPEN_STATUSES)
                    identified = ack + timedelta(minutes=5) if status != "investigating" else None
                    mitigated = identified + timedelta(minutes=20) if status == "monitoring" and identified else None
                    resolved = None
                else:
                    status = "resolved"
                    identified = ack + timedelta(seconds=rng.randrange(60, 7200))
                    mitigated = identified + timedelta(seconds=rng.randrange(60, 7200))
                    resolved = mitigated + timedelta(seconds=rng.randrange(60, 86400))
                copy.write_row([
                    pk, title, f"Customers saw {title.lower()}. Impact and cause are tracked in the timeline.", status,
                    "public" if rng.random() < 0.4 else "internal", started, ack, identified, mitigated, resolved,
                    started, resolved or ack, rng.choice(users), severities[rng.choices(sev_names, sev_weights)[0]],
                ])  # fmt: skip
        print(f"  incidents loaded ({time.monotonic() - began:.0f}s)")

        with conn.cursor().copy("COPY incidents_incidentservice (incident_id, service_id, impact, updated_at) FROM STDIN") as copy:
            for pk in range(1, INCIDENTS + 1):
                for service in rng.sample(service_ids, rng.choice((1, 1, 1, 2, 2, 3))):
                    copy.write_row([pk, service, rng.choice(IMPACTS[:3]), starts[pk]])
        with conn.cursor().copy(
            "COPY incidents_roleassignment (incident_id, role, user_id, assigned_by_id, started_at, ended_at) FROM STDIN"
        ) as copy:
            for pk in range(1, INCIDENTS + 1):
                started = starts[pk]
                if rng.random() < 0.1:  # a hand-over: the first commander's assignment ended
                    copy.write_row([pk, "commander", rng.choice(users), None, started, started + timedelta(minutes=30)])
                    started += timedelta(minutes=30)
                copy.write_row([pk, "commander", rng.choice(users), None, started, None])
                if rng.random() < 0.5:
                    copy.write_row([pk, "communications", rng.choice(users), None, started, None])
                if rng.random() < 0.2:
                    copy.write_row([pk, "scribe", rng.choice(users), None, started, None])
        with conn.cursor().copy("COPY incidents_incident_tags (incident_id, tag_id) FROM STDIN") as copy:
            for pk in range(1, INCIDENTS + 1):
                for tag in rng.sample(tag_ids, rng.choice((0, 0, 1, 1, 2))):
                    copy.write_row([pk, tag])
        print(f"  impacts, roles and tags loaded ({time.monotonic() - began:.0f}s)")

        # Timeline: most incidents have a handful of events, a hundred have thousands.
        counts = {pk: rng.randint(2, 10) for pk in range(1, INCIDENTS + 1)}
        giant_ids = rng.sample(range(1, INCIDENTS - OPEN_INCIDENTS), sum(GIANT_INCIDENTS.values()))
        position = 0
        for size, how_many in GIANT_INCIDENTS.items():
            for pk in giant_ids[position : position + how_many]:
                counts[pk] = size
            position += how_many
        normal = [pk for pk in counts if counts[pk] <= 10]
        surplus = sum(counts.values()) - EVENTS
        while surplus != 0:  # nudge small timelines until the total is exact
            pk = rng.choice(normal)
            if surplus > 0 and counts[pk] > 2:
                counts[pk] -= 1
                surplus -= 1
            elif surplus < 0 and counts[pk] < 30:
                counts[pk] += 1
                surplus += 1
        with conn.cursor().copy(
            "COPY incidents_timelineevent (incident_id, kind, author_id, occurred_at, created_at, pinned, body, details)"
            " FROM STDIN"
        ) as copy:
            for pk in range(1, INCIDENTS + 1):
                started = starts[pk]
                n = counts[pk]
                # Events spread over the incident's life; a microsecond step keeps
                # every occurred_at distinct even in a 20,000-event storm.
                spacing = timedelta(seconds=max(1, 172_800 // n), microseconds=pk % 997)
                for i in range(n):
                    kind = "declared" if i == 0 else rng.choice(EVENT_KINDS)
                    at = started + spacing * i
                    author = None if kind in ("alert", "probe", "system") else rng.choice(users)
                    copy.write_row([
                        pk, kind, author, at, at, rng.random() < 0.01, BODIES.get(kind, ""), DETAILS[kind],
                    ])  # fmt: skip
        print(f"  timeline loaded ({time.monotonic() - began:.0f}s)")
        for table in ("incidents_incident", "incidents_incidentservice", "incidents_roleassignment",
                      "incidents_incident_tags", "incidents_timelineevent"):  # fmt: skip
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"loaded in {time.monotonic() - began:.0f}s")


# --- server --------------------------------------------------------------------------
def wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the web server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/health/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"the web server was not ready within {timeout:.0f}s")


def get_json(base: str, path: str, token: str) -> Any:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


# --- scenarios --------------------------------------------------------------------
def scenarios() -> list[tuple[str, list[str]]]:
    """The endpoints measured, each a list of paths the clients cycle through."""
    from django.db.models import Count
    from rest_framework.pagination import Cursor

    from incidents.models import TimelineEvent
    from portal.pagination import TimelineCursorPagination

    rng = random.Random(SEED + 1)
    sample = rng.sample(range(1, INCIDENTS + 1), 2000)
    giants = list(
        TimelineEvent.objects.order_by().values("incident_id").annotate(n=Count("id")).filter(n__gte=10_000)
        .values_list("incident_id", flat=True)
    )  # fmt: skip
    deep: list[str] = []
    for pk in giants:
        # The cursor of the page half-way down the timeline, encoded by the view's
        # own paginator, exactly as a client following `next` links would get it.
        middle = TimelineEvent.objects.filter(incident_id=pk).order_by("-occurred_at", "-id")[10_000]
        pager = TimelineCursorPagination()
        pager.base_url = f"/api/v1/incidents/INC-{pk}/timeline/"
        # The position is the ordering value as text; the stubs type it as an int.
        position = str(middle.occurred_at)
        deep.append(pager.encode_cursor(Cursor(offset=0, reverse=False, position=position)))  # type: ignore[arg-type]
    return [
        # Reference, not a target: Django's trivial liveness view in the same server and
        # run, so that figures from a busy shared machine can be compared as ratios.
        (REFERENCE, ["/health/live"]),
        ("incident list", ["/api/v1/incidents/"]),
        ("incident list ?open=true", ["/api/v1/incidents/?open=true"]),
        ("incident list ?severity=SEV1", ["/api/v1/incidents/?severity=SEV1"]),
        ("incident detail", [f"/api/v1/incidents/INC-{pk}/" for pk in sample]),
        ("timeline, first page", [f"/api/v1/incidents/INC-{pk}/timeline/" for pk in sample]),
        ("timeline, deep cursor page", deep),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", "bench_api"))
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379"))
    parser.add_argument("--reload", action="store_true", help="drop the database and load it again")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per endpoint first")
    parser.add_argument("--client", choices=["auto", "wrk", "aiohttp"], default="auto")
    parser.add_argument("--only", help="measure only the scenarios whose name contains this text")
    args = parser.parse_args()

    dsn = f"{args.postgres.rstrip('/')}/{args.database}"
    env = {
        "DATABASE_URL": dsn,
        "REDIS_URL": args.redis,
        "REDIS_DB_BROKER": "12",
        "REDIS_DB_CHANNELS": "13",
        "REDIS_DB_CACHE": "14",
        "DATA_DIR": os.environ.get("DATA_DIR", "/tmp/bench-api-data"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    must_load = prepare_database(args.postgres, args.database, reload=args.reload)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    if must_load:
        load(dsn)

    from django.contrib.auth import get_user_model
    from django.db import connection

    from portal.management.commands.runportal import web_command
    from portal.models import ApiToken, Membership, OrgRole

    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_active": True})
    Membership.objects.update_or_create(user=user, defaults={"role": OrgRole.VIEWER})
    _, token = ApiToken.issue(user=user, name=f"bench {datetime.now(UTC):%Y-%m-%d %H:%M}")
    plan = [(name, paths) for name, paths in scenarios() if not args.only or args.only in name]
    connection.close()

    client = loadgen.which_client(args.client)
    base = f"http://127.0.0.1:{args.port}"
    command = web_command(sys.executable, "127.0.0.1", args.port)
    print(f"server: {' '.join(command[1:])}")
    print(f"load generator: {client} ({'C, one thread' if client == 'wrk' else 'aiohttp in a separate process'}),"
          f" {args.connections} connections, {args.seconds:.0f}s per endpoint after {args.warmup:.0f}s warm-up")  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    rows: list[tuple[str, dict[str, Any]]] = []
    try:
        wait_ready(base, server)
        for name, paths in plan:
            get_json(base, paths[0], token)  # fails loudly on a 4xx/5xx before measuring
            if args.warmup > 0:
                loadgen.run(client, base=base, paths=paths, token=token, connections=args.connections, seconds=args.warmup)
            result = loadgen.run(client, base=base, paths=paths, token=token, connections=args.connections, seconds=args.seconds)
            rows.append((name, result))
            print(f"  {name}: done", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()

    print()
    header = f"{'endpoint':<30} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  target p99 <= {TARGET_P99_MS:.0f} ms"
    print(header)
    print("-" * len(header))
    failed = False
    for name, r in rows:
        errors = r["non_2xx"] + r["socket_errors"]
        ok = r["p99_ms"] <= TARGET_P99_MS and errors == 0
        rate = r["requests"] / r["seconds"]
        if name == REFERENCE:
            print(f"{name:<30} {rate:>8.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {errors:>7}  (no target)")
            continue
        failed |= not ok
        print(f"{name:<30} {rate:>8.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {errors:>7}  {'ok' if ok else 'MISSED'}")
        _report.result(f"API {name}", f"{r['requests'] / r['seconds']:.0f} req/s, p99 {r['p99_ms']:.1f} ms, {errors} errors",
               f"p99 <= {TARGET_P99_MS:.0f} ms", ok)  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
