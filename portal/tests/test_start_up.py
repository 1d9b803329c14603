"""Start-up, run as the real commands in subprocesses: a bad setting is one clear
line and a non-zero exit with nothing left running; a good start serves the
address it prints, links say that address, and Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from portal import embedded_redis

ROOT = Path(__file__).resolve().parent.parent.parent
# Variables that would point the commands at the suite's own database or Redis.
SCRUB = ("DATABASE_URL", "TEST_DATABASE_NAME", "REDIS_URL", "PUBLIC_URL", "HOST", "PORT", "WEB_CONCURRENCY", "PORTAL_NO_EMBEDDED_REDIS")


def environment(data_dir: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    return {**env, "DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", "WEB_CONCURRENCY": "1", **values}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def servers_in(data_dir: Path) -> list[int]:
    """redis-server processes (or any other) whose command line names data_dir."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(data_dir).encode() in command and int(entry.name) != os.getpid():
                found.append(int(entry.name))
    return found


def runportal(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "runportal", "--no-demo", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("WEB_CONCURRENCY", "abc", "WEB_CONCURRENCY='abc' is not an integer."),
        ("PORT", "abc", "PORT='abc' is not an integer."),
        ("PORT", "99999", "PORT=99999 is above the maximum of 65535."),
        ("DEBUG", "perhaps", "DEBUG='perhaps' is not a boolean"),
        ("WEB_HTTP_THREADS", "0", "WEB_HTTP_THREADS=0 is below the minimum of 1."),
        ("PUBLIC_URL", "portal.example.com", "PUBLIC_URL must be a URL with one of the schemes http, https"),
    ],
)
def test_a_bad_setting_is_one_line_a_non_zero_exit_and_nothing_left_running(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    result = runportal(environment(tmp_path, **{variable: value}), timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert servers_in(tmp_path) == []
    assert not embedded_redis.ping(tmp_path / "redis.sock")


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = runportal(environment(tmp_path, PORT=str(port)), timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"PORT={port}" in lines[0] and "in use" in lines[0], result.stderr
    assert servers_in(tmp_path) == []


def orphan_redis(data_dir: Path) -> int:
    """An embedded Redis whose starter died without stopping it (as `kill -9` leaves it)."""
    code = (
        "import sys, pathlib; from portal import embedded_redis; "
        "p = embedded_redis.start(pathlib.Path(sys.argv[1]) / 'redis.sock'); print(p.pid)"
    )
    started = subprocess.run(
        [sys.executable, "-c", code, str(data_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=60, check=True,  # the server keeps stderr open
    )  # fmt: skip
    return int(started.stdout.strip())


def start_portal(data_dir: Path, port: int) -> subprocess.Popen[str]:
    """`manage.py runportal` in the background, once it says it is running."""
    log = (data_dir / "runportal.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runportal", "--no-demo"],
        cwd=ROOT, env=environment(data_dir, PORT=str(port)), stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while "Incident portal running at" not in (data_dir / "runportal.log").read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError((data_dir / "runportal.log").read_text())
        time.sleep(0.2)
    return process


def assert_nothing_left(data_dir: Path) -> None:
    deadline = time.monotonic() + 10
    while servers_in(data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert servers_in(data_dir) == []
    assert not embedded_redis.ping(data_dir / "redis.sock")


def test_the_portal_serves_and_links_the_port_it_was_given_replaces_an_orphan_and_stops_everything(tmp_path: Path) -> None:
    orphan = orphan_redis(tmp_path)
    assert embedded_redis.ping(tmp_path / "redis.sock")
    port = free_port()
    process = start_portal(tmp_path, port)
    try:
        assert f"Incident portal running at http://127.0.0.1:{port}/" in (tmp_path / "runportal.log").read_text()
        assert not Path(f"/proc/{orphan}").exists() or "redis" not in Path(f"/proc/{orphan}/cmdline").read_text()

        base = f"http://127.0.0.1:{port}"
        summary = json.loads(urllib.request.urlopen(f"{base}/api/v2/summary.json", timeout=30).read())
        assert summary["page"]["url"] == f"{base}/status/"
        feed = urllib.request.urlopen(f"{base}/status/feed.atom", timeout=30).read().decode()
        assert f"{base}/status/" in feed and ":8000" not in feed
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(60)
    assert code == 0, (tmp_path / "runportal.log").read_text()
    assert_nothing_left(tmp_path)


def test_when_a_process_of_the_portal_dies_everything_stops_with_a_non_zero_exit(tmp_path: Path) -> None:
    process = start_portal(tmp_path, free_port())
    try:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        web = next(int(pid) for pid in children if b"uvicorn" in Path(f"/proc/{pid}/cmdline").read_bytes())
        os.kill(web, signal.SIGKILL)
        code = process.wait(60)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(60)
    log = (tmp_path / "runportal.log").read_text()
    assert code != 0 and "web exited with code -9; the portal stopped." in log, log
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"PORT": "18500"}, "http://127.0.0.1:18500"),
        ({"HOST": "0.0.0.0", "PORT": "18501"}, "http://127.0.0.1:18501"),
        ({"HOST": "::1", "PORT": "18502"}, "http://[::1]:18502"),
        ({"PORT": "18500", "PUBLIC_URL": "https://status.example.com/"}, "https://status.example.com"),
    ],
)
def test_public_url_defaults_to_the_address_served_and_an_explicit_one_wins(tmp_path: Path, values: dict[str, str], expected: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; print(settings.PUBLIC_URL)"],
        cwd=ROOT, env={**environment(tmp_path, **values), "DJANGO_SETTINGS_MODULE": "portal.settings"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
