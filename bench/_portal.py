"""Start a throwaway portal for the public status page benchmarks: its own
DATA_DIR (SQLite and the embedded Redis), demo data, a first snapshot, and the
web process started exactly as `runportal` starts it."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup_django(data_dir: str) -> subprocess.Popen[bytes] | None:
    """Returns the embedded Redis process this started (stop it at the end)."""
    os.environ["DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from portal import embedded_redis

    redis_process = embedded_redis.ensure_running_for_settings()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("load_demo_data", verbosity=0)
    return redis_process


def start_web(port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    from portal.management.commands.runportal import web_command

    command = web_command(sys.executable, "127.0.0.1", port)
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, "PORTAL_NO_EMBEDDED_REDIS": "1", **(env or {})}, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/status.json", timeout=1).read()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the web process did not come up")


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (uvicorn's workers)."""
    total = rss_kib(pid)
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        total += rss_kib(int(child))
    return total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
