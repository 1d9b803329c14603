"""Where snapshots live: Redis (shared by all processes), a local file (survives a
restart while Redis is down) and this process's memory (the read path).

The read path (`current`) never touches the database or Redis once a snapshot
is loaded: a background thread in each web process polls Redis for a newer
version and swaps it in. When Redis is unreachable the thread backs off and the
process keeps serving what it has.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import redis
from django.conf import settings

from incidents.public.snapshot import Snapshot

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
MAX_BACKOFF = 30.0
REDIS_TIMEOUT = 0.5

_lock = threading.Lock()
_current: Snapshot | None = None
_poller: Poller | None = None
_client: redis.Redis | None = None

# Publish only if newer than what Redis holds, and only if the content changed
# (unless ARGV[4] is '1': a refresh that re-stamps unchanged content so that its
# age stays true); one script, so two workers finishing at once cannot interleave.
_PUBLISH = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) <= current then return 0 end
if ARGV[4] ~= '1' and redis.call('GET', KEYS[3]) == ARGV[3] then return 2 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


def _key(name: str) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "portal")
    return f"{prefix}:public:snapshot:{name}"


def _bytes(value: object) -> bytes | None:
    """A value as Redis answers it: bytes, since this client does not decode responses."""
    return value if isinstance(value, bytes) else None


def redis_client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            str(settings.CACHES["default"]["LOCATION"]), socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
    return _client


def file_path() -> Path:
    return Path(settings.DATA_DIR) / "public-snapshot.bin"


# --- memory ---------------------------------------------------------------------


def current() -> Snapshot | None:
    """The snapshot to serve: memory, else the local file, else Redis (once)."""
    if _current is None:
        _load_cold()
    return _current


def install(snapshot: Snapshot, *, write_file: bool = True) -> bool:
    """Make `snapshot` this process's current one if it is newer."""
    global _current
    with _lock:
        if _current is not None and snapshot.version <= _current.version:
            return False
        _current = snapshot
    if write_file:
        _write_file(snapshot)
    return True


def forget() -> None:
    """Drop the in-memory snapshot (tests; a process restart does the same)."""
    global _current, _client
    with _lock:
        _current = None
        _client = None


def _load_cold() -> None:
    try:
        install(Snapshot.loads(file_path().read_bytes()), write_file=False)
        return
    except FileNotFoundError:
        pass
    except Exception:  # noqa: BLE001 - a torn or old file must not stop the page
        log.warning("could not read the status snapshot file %s", file_path(), exc_info=True)
    try:
        refresh()
    except (redis.RedisError, OSError):
        log.warning("no status snapshot in memory or on disk, and Redis is unreachable")


# --- local file ----------------------------------------------------------------


def _write_file(snapshot: Snapshot) -> None:
    path = file_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".public-snapshot-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(snapshot.dumps())
        os.replace(tmp, path)
    except OSError:
        log.warning("could not write the status snapshot file %s", path, exc_info=True)


# --- Redis -------------------------------------------------------------------------


def redis_version() -> int:
    value = redis_client().get(_key("version"))
    return int(value) if value else 0


def publish(snapshot: Snapshot, *, refresh: bool = False) -> bool:
    """Store in Redis for every process; True when it became the current one.
    `refresh` publishes it even if its content is the current one's."""
    result = redis_client().eval(
        _PUBLISH, 3, _key("version"), _key("blob"), _key("hash"),
        snapshot.version, snapshot.dumps(), snapshot.content_hash, "1" if refresh else "0",
    )  # fmt: skip
    if result == 1:
        install(snapshot)
        return True
    return False


def latest() -> Snapshot | None:
    """The newest published snapshot, read from Redis (a worker keeps none in
    memory), else this process's; None when there is none or Redis is down."""
    try:
        blob = _bytes(redis_client().get(_key("blob")))
        if blob:
            return Snapshot.loads(blob)
    except Exception:  # noqa: BLE001 - a fallback of a fallback: never raise from here
        log.warning("could not read the published status snapshot", exc_info=True)
    return _current


def current_hash() -> str | None:
    value = _bytes(redis_client().get(_key("hash")))
    return value.decode() if value else None


def swap_live_hash(live_hash: str) -> bool:
    """Record the live message last pushed; True if it differs from the previous."""
    return redis_client().getset(_key("live-hash"), live_hash) != live_hash.encode()


def refresh() -> bool:
    """Fetch the snapshot from Redis if it is newer than ours. Raises on Redis errors."""
    mine = _current.version if _current is not None else 0
    if redis_version() <= mine:
        return False
    blob = _bytes(redis_client().get(_key("blob")))
    if not blob:
        return False
    return install(Snapshot.loads(blob))


# --- the web process's poller ------------------------------------------------------------


class Poller:
    """Keeps this process's snapshot in step with Redis: one `step` every
    POLL_SECONDS, backing off (doubling, up to MAX_BACKOFF) while Redis is down.

    The web process starts one when its server starts (the ASGI lifespan, see
    incidents.public.asgi) and stops it on shutdown; workers have none.
    """

    def __init__(self) -> None:
        self.delay = POLL_SECONDS
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> float:
        """Poll once; returns the delay before the next poll."""
        from incidents.public.freshness import snapshot_freshness

        try:
            refresh()
            self.delay = POLL_SECONDS
        except Exception:  # noqa: BLE001 - Redis down: keep serving, retry later
            self.delay = min(MAX_BACKOFF, self.delay * 2)
            log.debug("status snapshot poll failed; next try in %.0fs", self.delay, exc_info=True)
        snapshot_freshness()  # logs a warning while what this process serves is stale
        return self.delay

    def _run(self) -> None:
        while not self._stop.wait(self.delay):
            self.step()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="status-snapshot-poller", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def start_poller() -> Poller:
    """Start this process's poller (once)."""
    global _poller
    with _lock:
        if _poller is None or not _poller.running:
            _poller = Poller()
            _poller.start()
        return _poller


def stop_poller() -> None:
    global _poller
    with _lock:
        poller, _poller = _poller, None
    if poller is not None:
        poller.stop()


def status() -> dict[str, Any]:
    return {"version": _current.version if _current else None, "poller": _poller is not None and _poller.running}
