#!/usr/bin/env bash
# Smoke test of the production topology without Docker: web (uvicorn), a Celery
# worker and Celery beat as separate processes on the machine's real PostgreSQL
# and Redis, exercised through HTTP and the broker.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 .ci/smoke.sh
#
# DATABASE_URL names the PostgreSQL server; the test runs in its own database
# `smoke` (SMOKE_DATABASE), created at the start and dropped at the end. Redis
# databases 12, 13 and 14 (broker, channel layer, cache) are emptied first.
# Exits non-zero with a message on the first failure; all processes are stopped
# on exit, whatever happened.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
DEADLINE=$((SECONDS + ${SMOKE_TIMEOUT:-110}))

fail() { echo "smoke: FAILED: $*" >&2; exit 1; }
step() { echo "smoke: $*"; }

[ -x "$PYTHON" ] || fail "no Python at $PYTHON (run make install, or set PYTHON)"
[ -n "${DATABASE_URL:-}" ] || fail "DATABASE_URL is not set (postgres://user@host:port/db of the real PostgreSQL)"
[ -n "${REDIS_URL:-}" ] || fail "REDIS_URL is not set (redis://host:port of the real Redis)"
case "$DATABASE_URL" in postgres://* | postgresql://*) ;; *) fail "DATABASE_URL must be a PostgreSQL URL" ;; esac

SMOKE_DATABASE=${SMOKE_DATABASE:-smoke}
SERVER_URL=${DATABASE_URL%/*}
export DATABASE_URL="$SERVER_URL/$SMOKE_DATABASE"
export REDIS_DB_BROKER=${SMOKE_REDIS_DB_BROKER:-12} REDIS_DB_CHANNELS=${SMOKE_REDIS_DB_CHANNELS:-13} REDIS_DB_CACHE=${SMOKE_REDIS_DB_CACHE:-14}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/portal-smoke.XXXXXX")
export DATA_DIR="$WORK/data" DJANGO_SETTINGS_MODULE=portal.settings PYTHONUNBUFFERED=1
export PORTAL_BEAT_HEARTBEAT_SECONDS=2 LOG_LEVEL=INFO SECRET_KEY=smoke-test-secret-key-not-for-production
PORT=${SMOKE_PORT:-$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
BASE="http://127.0.0.1:$PORT"
PIDS=()

db_admin() {  # db_admin "SQL": run on the server's maintenance database
    "$PYTHON" - "$SERVER_URL/postgres" "$1" <<'EOF'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True, connect_timeout=5) as conn:
    conn.execute(sys.argv[2])
EOF
}

cleanup() {
    local code=$?
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ "$code" -ne 0 ]; then
        for name in web worker beat; do
            [ -f "$WORK/$name.log" ] && { echo "----- last lines of the $name log -----" >&2; tail -n 25 "$WORK/$name.log" >&2; }
        done
    fi
    db_admin "DROP DATABASE IF EXISTS \"$SMOKE_DATABASE\" WITH (FORCE)" >/dev/null 2>&1 || echo "smoke: could not drop database $SMOKE_DATABASE" >&2
    rm -rf "$WORK"
    [ "$code" -eq 0 ] && echo "smoke: passed" || echo "smoke: exit code $code" >&2
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

alive() {  # alive NAME PID: fail when a process has exited
    kill -0 "$2" 2>/dev/null || fail "the $1 process exited early (see its log below)"
}

step "database $SMOKE_DATABASE on ${SERVER_URL#*@}, Redis DBs $REDIS_DB_BROKER/$REDIS_DB_CHANNELS/$REDIS_DB_CACHE"
db_admin "DROP DATABASE IF EXISTS \"$SMOKE_DATABASE\" WITH (FORCE)" || fail "cannot reach PostgreSQL at ${SERVER_URL#*@}"
db_admin "CREATE DATABASE \"$SMOKE_DATABASE\"" || fail "cannot create database $SMOKE_DATABASE"
"$PYTHON" - <<'EOF' || fail "cannot reach Redis at $REDIS_URL"
import os, redis
for key in ("REDIS_DB_BROKER", "REDIS_DB_CHANNELS", "REDIS_DB_CACHE"):
    redis.Redis.from_url(os.environ["REDIS_URL"], db=int(os.environ[key]), socket_connect_timeout=3).flushdb()
EOF

step "migrate"
"$PYTHON" manage.py migrate --no-input -v0 || fail "migrate failed"
"$PYTHON" manage.py check --deploy --fail-level ERROR >"$WORK/check.log" 2>&1 || { cat "$WORK/check.log" >&2; fail "manage.py check reported errors"; }
TOKEN=$("$PYTHON" manage.py issue_api_token --username smoke-responder --role responder --scope write --name smoke 2>/dev/null) \
    || fail "issue_api_token failed"
case "$TOKEN" in ipt_*) ;; *) fail "issue_api_token printed no token" ;; esac

step "start web on $BASE, worker and beat"
# The same web command as `manage.py runportal` (portal/management/commands/runportal.py).
mapfile -t WEB < <("$PYTHON" -c 'import sys
from portal.management.commands.runportal import web_command
print("\n".join(web_command(sys.executable, "127.0.0.1", int(sys.argv[1]))))' "$PORT")
[ "${#WEB[@]}" -gt 3 ] || fail "could not build the web command"
"${WEB[@]}" >"$WORK/web.log" 2>&1 &
PIDS+=($!); WEB_PID=$!
"$PYTHON" -m celery -A portal worker --loglevel INFO --concurrency 1 -n "smoke@%h" \
    -Q default,alerts,probes,runbooks,snapshots >"$WORK/worker.log" 2>&1 &
PIDS+=($!); WORKER_PID=$!
"$PYTHON" -m celery -A portal beat --loglevel INFO --schedule "$WORK/celerybeat-schedule" >"$WORK/beat.log" 2>&1 &
PIDS+=($!); BEAT_PID=$!

step "wait for /health/ready"
until "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$BASE/health/ready" 2>/dev/null; do
    alive web "$WEB_PID"
    [ "$SECONDS" -lt "$DEADLINE" ] || fail "/health/ready did not answer 200 in time"
    sleep 0.3
done

step "HTTP: declare, change status, read the timeline, fetch the schema"
"$PYTHON" - "$BASE" "$TOKEN" <<'EOF' || fail "the HTTP smoke test failed (message above)"
import json, sys, urllib.error, urllib.request

base, token = sys.argv[1], sys.argv[2]

def call(method, path, body=None, expect=200, auth=True):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    if status != expect:
        sys.exit(f"{method} {path}: expected {expect}, got {status}: {raw[:500]!r}")
    return raw

ready = json.loads(call("GET", "/health/ready", auth=False))
assert ready["status"] == "ok" and ready["database"] == "postgresql", ready
call("GET", "/api/v1/incidents/", auth=False, expect=401)

incident = json.loads(call("POST", "/api/v1/incidents/", {"title": "Smoke test: checkout errors", "severity": "SEV2",
                                                          "summary": "Declared by the CI smoke test."}, expect=201))
ref = incident["reference"]
assert incident["status"] == "investigating" and incident["severity"]["name"] == "SEV2", incident
changed = json.loads(call("POST", f"/api/v1/incidents/{ref}/status/", {"status": "identified", "note": "Bad deploy."}))
assert changed["status"] == "identified" and changed["identified_at"], changed
refused = json.loads(call("POST", f"/api/v1/incidents/{ref}/status/", {"status": "bogus"}, expect=400))
assert "error" in refused, refused

timeline = json.loads(call("GET", f"/api/v1/incidents/{ref}/timeline/"))
kinds = [event["kind"] for event in timeline["results"]]
assert "declared" in kinds and "status_change" in kinds, kinds
assert json.loads(call("GET", f"/api/v1/incidents/{ref}/"))["status"] == "identified"

schema = call("GET", "/api/schema/?format=json")
spec = json.loads(schema)
assert spec["openapi"].startswith("3.") and any(p.startswith("/api/v1/incidents") for p in spec["paths"]), list(spec)[:5]
print(f"smoke: {ref} declared, identified, {len(kinds)} timeline events; schema has {len(spec['paths'])} paths")
EOF

step "worker: control ping over the broker, and a task through the queue"
alive worker "$WORKER_PID"
until "$PYTHON" -m celery -A portal inspect ping -d "smoke@$("$PYTHON" -c 'import socket; print(socket.gethostname())')" --timeout 3 >"$WORK/inspect.log" 2>&1; do
    alive worker "$WORKER_PID"
    [ "$SECONDS" -lt "$DEADLINE" ] || { cat "$WORK/inspect.log" >&2; fail "the worker did not answer celery inspect ping"; }
    sleep 1
done
NONCE=$("$PYTHON" -c 'import secrets; print(secrets.token_hex(8))')
"$PYTHON" -m celery -A portal call portal.tasks.ping --args "[\"$NONCE\"]" >/dev/null || fail "could not send portal.tasks.ping"
"$PYTHON" - "$NONCE" <<'EOF' || fail "the worker did not run portal.tasks.ping from the broker"
import sys, time
import django
django.setup()
from django.core.cache import cache
from portal.tasks import PING_KEY
nonce, deadline = sys.argv[1], time.time() + 30
while time.time() < deadline:
    answer = cache.get(PING_KEY.format(token=nonce))
    if answer:
        print(f"smoke: portal.tasks.ping ran on {answer}")
        sys.exit(0)
    time.sleep(0.3)
sys.exit(1)
EOF

step "beat: the heartbeat it schedules is run by the worker"
alive beat "$BEAT_PID"
"$PYTHON" - <<'EOF' || fail "no beat heartbeat within 20 s: beat is not scheduling, or the worker is not consuming"
import sys, time
import django
django.setup()
from django.core.cache import cache
from portal.tasks import BEAT_HEARTBEAT_KEY
deadline = time.time() + 20
while time.time() < deadline:
    beat = cache.get(BEAT_HEARTBEAT_KEY)
    if beat:
        print(f"smoke: beat heartbeat at {beat}")
        sys.exit(0)
    time.sleep(0.5)
sys.exit(1)
EOF
alive web "$WEB_PID"; alive worker "$WORKER_PID"; alive beat "$BEAT_PID"
step "all checks passed in ${SECONDS}s"
