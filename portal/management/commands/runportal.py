"""Run the whole portal in one terminal: web (HTTP, API, websockets), a Celery
worker and Celery beat, plus the embedded Redis when REDIS_URL is unset.

Ctrl-C stops them all.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from portal import embedded_redis
from portal.env import served_url


def web_workers() -> int:
    """Web processes: WEB_CONCURRENCY, else one per core up to four. One process
    runs Python on one core at a time (the GIL), so a single process leaves the
    other cores idle and queues every request behind the one running."""
    return int(settings.WEB_CONCURRENCY)


def web_command(python: str, host: str, port: int) -> list[str]:
    """The web process's command line, shared with the API benchmark and the CI
    smoke test so that they run the server exactly as the portal does. uvicorn
    picks uvloop and httptools (installed by uvicorn[standard]) by itself."""
    return [python, "-m", "uvicorn", "portal.asgi:application", "--host", host, "--port", str(port),
            "--no-access-log", "--ws", "websockets-sansio", "--lifespan", "on",
            "--workers", str(web_workers())]  # fmt: skip


def check_can_listen(host: str, port: int) -> None:
    """Refuse to start (before anything runs) when the web server could not listen."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            sock.bind(address)
    except OSError as exc:
        raise CommandError(f"cannot listen on HOST={host!r} PORT={port}: {exc.strerror or exc}.") from None


def wait_until_listening(host: str, port: int, processes: dict[str, subprocess.Popen[bytes]], timeout: float = 60) -> None:
    target = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    deadline = time.monotonic() + timeout
    while True:
        for name, process in processes.items():
            if process.poll() is not None:
                raise CommandError(f"{name} exited with code {process.returncode} during start-up.")
        try:
            socket.create_connection((target, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise CommandError(f"the web server did not listen on {host}:{port} within {timeout:.0f}s.") from None
            time.sleep(0.2)


class Command(BaseCommand):
    help = "Migrate, load demo data once, and run web, worker and beat together."

    def add_arguments(self, parser: Any) -> None:
        # Defaults come from settings.HOST/PORT (the HOST and PORT variables, parsed strictly).
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument("--no-demo", action="store_true", help="Do not load demo data.")

    def handle(self, *args: Any, host: str | None, port: int | None, no_demo: bool, **options: Any) -> None:
        host = settings.HOST if host is None else host
        port = settings.PORT if port is None else port
        if not 1 <= port <= 65535:
            raise CommandError(f"--port {port} is not a TCP port (1-65535).")
        check_can_listen(host, port)
        python = sys.executable
        commands = {
            "web": web_command(python, host, port),
            "worker": [python, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO",
                       "--concurrency", str(settings.CELERY_WORKER_CONCURRENCY), "-Q", f"default,alerts,probes.{settings.HEALTH_DEFAULT_LOCATION},runbooks,snapshots,paging,notify"],
            "beat": [python, "-m", "celery", "-A", "portal", "beat", "--loglevel", "INFO",
                     "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME],
        }  # fmt: skip
        # Every value is checked above; from here on, whatever fails stops what was started.
        redis_process = embedded_redis.ensure_running_for_settings()
        processes: dict[str, subprocess.Popen[bytes]] = {}
        try:
            if redis_process is not None:
                self.stdout.write(f"embedded Redis on {settings.EMBEDDED_REDIS_SOCKET}")
            call_command("migrate", interactive=False, verbosity=0)
            call_command("collectstatic", interactive=False, verbosity=0)
            if not no_demo:
                call_command("load_demo_data", verbosity=1)
            # HOST and PORT travel to the children so that their PUBLIC_URL (unless
            # set) is the address served, whether it came from the variables or --host/--port.
            env = {**os.environ, "PORTAL_NO_EMBEDDED_REDIS": "1", "PYTHONUNBUFFERED": "1", "HOST": host, "PORT": str(port)}
            for name, command in commands.items():
                processes[name] = subprocess.Popen(command, env=env)
            self.run(host, port, processes)
        finally:
            stop_all(processes)
            embedded_redis.stop(redis_process)
            self.stdout.write("stopped.")

    def run(self, host: str, port: int, processes: dict[str, subprocess.Popen[bytes]]) -> None:
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        wait_until_listening(host, port, processes)
        url = served_url(host, port) + "/"
        self.stdout.write(self.style.SUCCESS(f"\nIncident portal running at {url}"))
        self.stdout.write(f"  status page   {url}status/\n  API docs      {url}api/docs/\n  admin         {url}admin/")
        self.stdout.write("  demo login    commander / demo-commander  (also: responder, viewer, manager with demo-<name>)")
        self.stdout.write("Press Ctrl-C to stop.\n")
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    raise CommandError(f"{name} exited with code {process.returncode}; the portal stopped.")
            time.sleep(0.5)


def stop_all(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
