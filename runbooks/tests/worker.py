"""A Celery worker for the kill test and the benchmark: the portal's app, serving the
`runbooks` queue, with a short broker visibility timeout so that a task whose worker
was killed is delivered again within seconds (in production: an hour)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

if __name__ == "__main__":
    from portal.celery import app

    app.conf.broker_transport_options = {"visibility_timeout": float(os.environ.get("VISIBILITY_TIMEOUT", "3"))}
    pool = os.environ.get("WORKER_POOL", "solo")
    concurrency = os.environ.get("WORKER_CONCURRENCY", "1")
    app.worker_main(["worker", "-Q", "runbooks", "-P", pool, "-c", concurrency, "--loglevel", os.environ.get("WORKER_LOGLEVEL", "WARNING"),
                     "--without-heartbeat", "--without-gossip", "--without-mingle", "-n", f"kill-test-{os.getpid()}@%h", *sys.argv[1:]])  # fmt: skip
