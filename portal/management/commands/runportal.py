"""Run the whole portal in one terminal: web (HTTP, API, websockets), a Celery
worker and Celery beat, plus the embedded Redis when REDIS_URL is unset.

Ctrl-C stops them all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from portal import embedded_redis
from portal.env import env_int


def web_workers() -> int:
    """Web processes: WEB_CONCURRENCY, else one per core up to four. One process
    runs Python on one core at a time (the GIL), so a single process leaves the
    other cores idle and queues every request behind the one running."""
    return env_int("WEB_CONCURRENCY", min(4, os.cpu_count() or 1), minimum=1, maximum=64)


def web_command(python: str, host: str, port: int) -> list[str]:
    """The web process's command line, shared with the API benchmark and the CI
    smoke test so that they run the server exactly as the portal does. uvicorn
    picks uvloop and httptools (installed by uvicorn[standard]) by itself."""
    return [python, "-m", "uvicorn", "portal.asgi:application", "--host", host, "--port", str(port),
            "--no-access-log", "--ws", "websockets-sansio", "--lifespan", "off",
            "--workers", str(web_workers())]  # fmt: skip


class Command(BaseCommand):
    help = "Migrate, load demo data once, and run web, worker and beat together."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="Do not load demo data.")

    def handle(self, *args: Any, host: str, port: int, no_demo: bool, **options: Any) -> None:
        redis_process = embedded_redis.ensure_running_for_settings()
        if redis_process is not None:
            self.stdout.write(f"embedded Redis on {settings.EMBEDDED_REDIS_SOCKET}")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        if not no_demo:
            call_command("load_demo_data", verbosity=1)

        env = {**os.environ, "PORTAL_NO_EMBEDDED_REDIS": "1", "PYTHONUNBUFFERED": "1"}
        python = sys.executable
        commands = {
            "web": web_command(python, host, port),
            "worker": [python, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO",
                       "--concurrency", str(settings.CELERY_WORKER_CONCURRENCY), "-Q", "default,alerts,probes,runbooks,snapshots,paging,notify"],
            "beat": [python, "-m", "celery", "-A", "portal", "beat", "--loglevel", "INFO",
                     "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME],
        }  # fmt: skip
        processes: dict[str, subprocess.Popen[bytes]] = {}
        for name, command in commands.items():
            processes[name] = subprocess.Popen(command, env=env)

        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"\nIncident portal running at {url}"))
        self.stdout.write(f"  status page   {url}status/\n  API docs      {url}api/docs/\n  admin         {url}admin/")
        self.stdout.write("  demo login    commander / demo-commander  (also: responder, viewer, manager with demo-<name>)")
        self.stdout.write("Press Ctrl-C to stop.\n")

        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with code {process.returncode}; stopping the portal.")
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
            embedded_redis.stop(redis_process)
            self.stdout.write("stopped.")
