"""Paging and notification benchmark on PostgreSQL with real Celery workers.

    .venv/bin/python bench/paging.py [--declares 50] [--storm 1000] [--subscribers 10000]

It (re)creates its own database (`bench_paging` by default), starts an SMTP server
(aiosmtpd) and an HTTP webhook receiver in this process, and two Celery workers
(queue `paging`, queue `notify`), then measures:

1. declare → first notification: incidents declared one at a time at a paging
   severity; the time from the declaration's commit until the SMTP server accepted
   the page and until the webhook receiver got it (p50/p99; target p99 ≤ 2 s).
2. storm: `--storm` incidents declared at once under a policy whose second step is
   due one minute after the first; how late each second step fires after its due
   time (p99; target ≤ 5 s), and that no step is paged twice.
3. fan-out: `--subscribers` confirmed email subscribers and one public update; the
   time until the SMTP server accepted the last message (target ≤ 60 s), and that
   no subscriber got two.

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench_paging),
REDIS_URL (default redis://127.0.0.1:6379), REDIS_DB_BROKER/CHANNELS/CACHE (12/13/14),
BENCH_NOTIFY_CONCURRENCY (default 4).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import result  # noqa: E402
from ingest import free_port, percentile, recreate_database  # noqa: E402


def configure_env(smtp_port: int) -> dict[str, str]:
    env = {
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_paging"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"),
        "REDIS_DB_BROKER": os.environ.get("REDIS_DB_BROKER", "12"),
        "REDIS_DB_CHANNELS": os.environ.get("REDIS_DB_CHANNELS", "13"),
        "REDIS_DB_CACHE": os.environ.get("REDIS_DB_CACHE", "14"),
        "DATA_DIR": os.environ.get("DATA_DIR", "/tmp/bench-paging-data"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_USE_TLS": "0",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    return env


class Clock:
    """Arrival times of messages, keyed by what they were for."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, float] = {}
        self.counts: Counter[str] = Counter()
        self.subjects: Counter[str] = Counter()  # distinct recipients per subject, kept as they arrive

    def mark(self, key: str) -> None:
        with self.lock:
            if key not in self.seen:
                self.seen[key] = time.perf_counter()
                self.subjects[key.split("|", 1)[0]] += 1
            self.counts[key] += 1

    def reset(self) -> None:
        with self.lock:
            self.seen.clear()
            self.counts.clear()
            self.subjects.clear()


def start_receivers(smtp_port: int, mail: Clock, hooks: Clock) -> tuple[object, object, int]:
    from email import message_from_bytes, policy
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from aiosmtpd.controller import Controller

    class Box:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            msg = message_from_bytes(envelope.content, policy=policy.default)
            subject = str(msg["Subject"])
            for rcpt in envelope.rcpt_tos:
                mail.mark(f"{subject}|{rcpt}")
            return "250 OK"

    controller = Controller(Box(), hostname="127.0.0.1", port=smtp_port)
    controller.start()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            import json

            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hooks.mark(json.loads(body)["subject"])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return controller, server, server.server_address[1]


def start_workers(env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    log_dir = Path(env["DATA_DIR"])
    log_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for queue, concurrency in (("paging", "2"), ("notify", os.environ.get("BENCH_NOTIFY_CONCURRENCY", "4"))):
        log = (log_dir / f"worker-{queue}.log").open("wb")
        out.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", queue, "-n", f"{queue}@bench", "--concurrency", concurrency,
             "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT))
    time.sleep(4)
    return out


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--declares", type=int, default=50)
    parser.add_argument("--storm", type=int, default=1000)
    parser.add_argument("--subscribers", type=int, default=10000)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: declare, storm, fanout")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    smtp_port = free_port()
    env = configure_env(smtp_port)
    recreate_database(env["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from incidents.models import (
        ChannelKind,
        ContactMethod,
        Escalation,
        EscalationPolicy,
        EscalationStep,
        NotificationDelivery,
        NotificationRule,
        Page,
        SeverityPaging,
        StatusSubscriber,
        Visibility,
    )
    from incidents.services import incident_declare, incident_post_update
    from portal.tests.factories import ServiceFactory, severity

    User = get_user_model()
    mail, hooks = Clock(), Clock()
    controller, server, hook_port = start_receivers(smtp_port, mail, hooks)
    workers = start_workers(env)
    failures = 0
    try:
        # 1. declare → first notification ---------------------------------------------------
        primary = User.objects.create_user("primary", email="primary@bench.test")
        hook = ContactMethod.objects.create(user=primary, kind=ChannelKind.WEBHOOK, target=f"http://127.0.0.1:{hook_port}/page")
        email = ContactMethod.objects.create(user=primary, kind=ChannelKind.EMAIL, target="primary@bench.test")
        NotificationRule.objects.create(user=primary, contact_method=hook)
        NotificationRule.objects.create(user=primary, contact_method=email)
        fast = EscalationPolicy.objects.create(slug="fast", name="Fast")
        EscalationStep.objects.create(policy=fast, position=0, delay_minutes=30).users.add(primary)
        SeverityPaging.objects.create(severity=severity("SEV1"), policy=fast)
        if "declare" in skip:
            print("declare: skipped")
        else:
            to_mail: list[float] = []
            to_hook: list[float] = []
            warm = incident_declare(title="Warm-up", severity=severity("SEV1"), by=None)  # workers import and connect once
            wait_for(lambda: f"[SEV1] {warm.reference} Warm-up" in hooks.seen, 30)
            for i in range(args.declares):
                incident = incident_declare(title=f"Bench page {i}", severity=severity("SEV1"), by=None)
                started = time.perf_counter()
                subject = f"[SEV1] {incident.reference} Bench page {i}"
                def arrived(s: str = subject) -> bool:
                    return f"{s}|primary@bench.test" in mail.seen and s in hooks.seen

                ok = wait_for(arrived, 30)
                if not ok:
                    failures += 1
                    continue
                to_mail.append(mail.seen[f"{subject}|primary@bench.test"] - started)
                to_hook.append(hooks.seen[subject] - started)
            p99_mail, p99_hook = percentile(to_mail, 99), percentile(to_hook, 99)
            print(f"declare → SMTP accepted: p50 {percentile(to_mail, 50) * 1000:.0f} ms, p99 {p99_mail * 1000:.0f} ms ({len(to_mail)} pages, {failures} lost)")
            print(f"declare → webhook received: p50 {percentile(to_hook, 50) * 1000:.0f} ms, p99 {p99_hook * 1000:.0f} ms")
            result("declare → first email (SMTP accepted) p99", f"{p99_mail * 1000:.0f} ms", "≤ 2 s", p99_mail <= 2 and not failures)
            result("declare → first webhook p99", f"{p99_hook * 1000:.0f} ms", "≤ 2 s", p99_hook <= 2 and not failures)

        # 2. storm: every second step within 5 s of its due time ---------------------------------------
        if "storm" in skip:
            print("storm: skipped")
        else:
            quiet = [User.objects.create_user(f"storm{i}", email="") for i in range(2)]  # no contact: step firing alone
            storm = EscalationPolicy.objects.create(slug="storm", name="Storm")
            EscalationStep.objects.create(policy=storm, position=0, delay_minutes=1).users.add(quiet[0])
            EscalationStep.objects.create(policy=storm, position=1, delay_minutes=30).users.add(quiet[1])
            SeverityPaging.objects.filter(severity=severity("SEV1")).update(policy=storm)
            before = Escalation.objects.count()
            declared_at = time.perf_counter()
            for i in range(args.storm):
                incident_declare(title=f"Storm {i}", severity=severity("SEV1"), by=None)
            print(f"storm: {args.storm} incidents declared in {time.perf_counter() - declared_at:.1f} s")
            storm_pages = Page.objects.filter(escalation__policy=storm)
            done = wait_for(lambda: storm_pages.filter(step=1).count() >= args.storm, 240)
            lateness = []
            first = dict(storm_pages.filter(step=0).values_list("escalation_id", "paged_at"))
            for escalation_id, paged_at in storm_pages.filter(step=1).values_list("escalation_id", "paged_at"):
                lateness.append(max(0.0, (paged_at - (first[escalation_id] + timedelta(minutes=1))).total_seconds()))
            doubled = storm_pages.count() - len(set(storm_pages.values_list("escalation_id", "step")))
            p99_late = percentile(lateness, 99) if lateness else float("inf")
            print(f"storm: {len(lateness)}/{args.storm} second steps fired; lateness p50 {percentile(lateness, 50) if lateness else 0:.2f} s, "
                  f"p99 {p99_late:.2f} s, max {max(lateness) if lateness else 0:.2f} s; doubled pages {doubled}; escalations {Escalation.objects.count() - before}")
            result(f"{args.storm} escalating at once: step lateness p99", f"{p99_late:.2f} s", "≤ 5 s", done and p99_late <= 5 and doubled == 0)

        # 3. fan-out to email subscribers ----------------------------------------------------------------
        if "fanout" in skip:
            print("fan-out: skipped")
            return 0
        api = ServiceFactory.create(slug="api", name="API")
        StatusSubscriber.objects.bulk_create(
            [StatusSubscriber(kind="email", address=f"reader{i}@bench.test", token=f"t{i:08d}", confirmed_at=timezone.now())
             for i in range(args.subscribers)], batch_size=2000)
        SeverityPaging.objects.filter(severity=severity("SEV4")).delete()
        incident = incident_declare(title="Public bench", severity=severity("SEV4"), by=None, visibility=Visibility.PUBLIC,
                                    impacts={api: "partial_outage"})
        wait_for(lambda: NotificationDelivery.objects.filter(subscriber__isnull=False).count() >= args.subscribers, 120)
        subject = "Public bench: Investigating"
        wait_for(lambda: mail.subjects[subject] >= args.subscribers, 300)
        mail.reset()
        posted = time.perf_counter()
        incident_post_update(incident=incident, body="Bench update", by=None)
        prefix = subject + "|"
        got_all = wait_for(lambda: mail.subjects[subject] >= args.subscribers, 300)
        last = max((t for k, t in mail.seen.items() if k.startswith(prefix)), default=posted)
        twice = sum(1 for k, c in mail.counts.items() if k.startswith(prefix) and c > 1)
        elapsed = last - posted
        print(f"fan-out: {sum(1 for k in mail.seen if k.startswith(prefix))}/{args.subscribers} subscribers reached in {elapsed:.1f} s; twice: {twice}")
        result(f"{args.subscribers} email subscribers, one public update", f"{elapsed:.1f} s", "≤ 60 s, none twice",
               got_all and elapsed <= 60 and twice == 0)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
        controller.stop()  # type: ignore[attr-defined]
        server.shutdown()  # type: ignore[attr-defined]
        connection.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
