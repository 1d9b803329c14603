"""Start real worker processes on the test database and broker (kill test, benchmark)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)


def database_url() -> str:
    """The URL of the database the tests run on, for a child process."""
    cfg = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{cfg['NAME']}"
    auth = cfg["USER"] + (f":{cfg['PASSWORD']}" if cfg.get("PASSWORD") else "")
    return f"postgres://{auth}@{cfg['HOST'] or '127.0.0.1'}:{cfg['PORT'] or 5432}/{cfg['NAME']}"


def worker_env(kubeconfig: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(DATABASE_URL=database_url(), DATA_DIR=str(settings.DATA_DIR), RUNBOOKS_KUBECONFIG=kubeconfig,
               DB_POOL="0", PORTAL_TESTING="1", **extra)  # fmt: skip
    if settings.EMBEDDED_REDIS:
        env.pop("REDIS_URL", None)
    return env


def start_worker(env: dict[str, Any], log: Path) -> subprocess.Popen[bytes]:
    # Its own process group: a prefork pool's children die with it.
    # `-m` from the root, with it on the path: this checkout's code, not another one installed in the virtualenv.
    env = {**env, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "runbooks.tests.worker"], cwd=ROOT, env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def kill(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal the worker's own process group (it and the pool children it made)."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def purge_runbooks_queue() -> None:
    from portal.celery import app

    with app.connection_for_write() as conn:
        try:
            conn.default_channel.queue_purge("runbooks")
        except Exception:  # noqa: BLE001 - the queue does not exist yet
            pass
