"""How the status page is rebuilt.

1. A public change commits (an incident, a public update, maintenance, the
   catalogue): its service publishes a domain event with `public=True`
   (`incidents/events.py`).
2. `on_event` (subscribed by `connect()`, from IncidentsConfig.ready()) calls
   `request_rebuild`, which enqueues one `incidents.public.rebuild_snapshot` task
   by name for a burst of changes (a Redis flag set with NX coalesces them). Beat
   also runs it every minute, to catch up after an outage and roll "today" over.
3. The task (`tasks.py`) clears the flag and calls `rebuild()` here: read the
   public data (`data.py`), push the live part to open pages, render the pages,
   feeds and JSON (`snapshot.py`), publish the new version (`store.py`: Redis, a
   local file, each web process's memory) and broadcast it (`consumer.py`).
4. Readers are answered from that snapshot (`asgi.py`, `views.py`), never from
   PostgreSQL or Redis on the request path.
"""

from __future__ import annotations

import logging
import threading

from celery import current_app
from django.conf import settings

from incidents import events
from incidents.public import snapshot, store
from incidents.public.data import load_public_data
from portal import redis_guard
from portal.realtime import PUBLIC_GROUP, broadcast

log = logging.getLogger(__name__)

# Changes within this window share one rebuild (a burst of updates, a status
# change and its public update): short enough for a live page to feel instant.
COALESCE_SECONDS = 0.25
QUEUED_TTL = 15  # a lost task only delays the next rebuild this long
# Unchanged content is published again (a new version, same bytes but the build
# time) once the current version is this old, so that the age the page, the
# readiness check and the logs report stays true. Below the periodic rebuild's
# 60 s, so that every periodic rebuild refreshes it.
REFRESH_SECONDS = 45
EVENT = "public.snapshot"
# Enqueued by name: tasks.py imports this module, never the reverse.
REBUILD_TASK = "incidents.public.rebuild_snapshot"

_cold_lock = threading.Lock()


def rebuild() -> int | None:
    """Build from the database and publish if the public content changed, or if
    the published version is older than REFRESH_SECONDS.

    Returns the new version, or None when nothing was published. Safe to run
    twice or concurrently: the version is taken before reading the database and
    Redis keeps only the newest, so a slow build can never replace a newer one.

    Open pages get the live part first, before the pages, feeds and JSON are
    rendered; the message is sent again once the snapshot is published, so a
    page that (re)connected in between still gets it. Consumers drop a version
    they already have.
    """
    previous = store.redis_version()
    version = snapshot.new_version(previous)
    data = load_public_data()
    live_hash, live = snapshot.live_message(data, store.latest)
    if store.swap_live_hash(live_hash):
        broadcast(PUBLIC_GROUP, EVENT, {**live, "version": version})
    content_hash, stamp = snapshot.build(previous_version=previous, data=data, previous=store.latest)
    unchanged = content_hash == store.current_hash()
    if unchanged and version - previous < REFRESH_SECONDS * 1_000_000:
        return None
    built = stamp(version)
    if not store.publish(built, refresh=unchanged):
        return None
    broadcast(PUBLIC_GROUP, EVENT, built.live)
    return version


def rebuild_if_missing() -> snapshot.Snapshot | None:
    """Cold start (a fresh install before the first rebuild): build in-process
    once, so the very first reader gets a page. Never on the normal read path."""
    with _cold_lock:
        if store.current() is not None:
            return store.current()
        try:
            rebuild()
        except Exception:  # noqa: BLE001 - no database or Redis either: the caller answers 503
            log.warning("could not build the first status snapshot", exc_info=True)
            return None
        return store.current()


def request_rebuild() -> None:
    """Enqueue one rebuild for a burst of changes.

    The flag is set with NX: while a rebuild is queued, further changes ride on
    it. The task clears the flag before it reads the database, so a change that
    lands during a build queues another one and is never lost.
    """
    # Runs after a responder's change, on the request: Redis down costs at most one
    # short timeout (redis_guard), and the periodic rebuild catches up.
    if not redis_guard.cache.allows():
        return
    try:
        queued = redis_guard.client_for(str(settings.CACHES["default"]["LOCATION"])).set(store._key("queued"), 1, nx=True, ex=QUEUED_TTL)
    except Exception:  # noqa: BLE001
        redis_guard.cache.failed("queueing a status snapshot rebuild")
        return
    redis_guard.cache.succeeded()
    if queued:
        redis_guard.publish(current_app.signature(REBUILD_TASK), queue="snapshots", countdown=COALESCE_SECONDS)


def clear_queued() -> None:
    store.redis_client().delete(store._key("queued"))


def on_event(event: events.DomainEvent) -> None:
    if event.public:
        request_rebuild()



def connect() -> None:
    """Subscribe the rebuild to public domain events; called from IncidentsConfig.ready(),
    safe to call again (a subscriber is registered once)."""
    events.subscribe(on_event)
