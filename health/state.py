"""The state machine, as pure functions: thresholds per location, quorum over locations.

Per location: a new probe is *pending*. It becomes *down* after `failure_threshold`
consecutive down results, and *up* (or *degraded*) after `success_threshold`
consecutive results that are not down. Between a confirmed state and the next one
the confirmed state holds, so one odd result never flips it (no flapping). Up and
degraded move between each other the same way: worse after the failure threshold
of identical results, better after the success threshold. A *no data* result (the
location's prober failed its own self-check) leaves the counters alone and shows
the location as no data.

Over locations: the probe is down when at least `quorum` locations are down,
degraded when at least `quorum` are down or degraded, up when a location with
data says up (or degraded) and no quorum says worse; with too few locations
reporting to tell (the others pending or without data) the previous state holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

PENDING = "pending"
UP = "up"
DEGRADED = "degraded"
DOWN = "down"
NO_DATA = "no_data"

_RANK = {UP: 0, DEGRADED: 1, DOWN: 2}


@dataclass(frozen=True)
class LocationState:
    status: str = PENDING
    last_outcome: str = PENDING
    failures: int = 0
    successes: int = 0
    same: int = 0
    # the last confirmed status, kept while the location reports no data
    confirmed: str = PENDING


def step(state: LocationState, outcome: str, *, failure_threshold: int, success_threshold: int) -> LocationState:
    """The state after one more result."""
    failure_threshold = max(failure_threshold, 1)
    success_threshold = max(success_threshold, 1)
    if outcome == NO_DATA:
        return replace(state, status=NO_DATA, last_outcome=NO_DATA)
    same = state.same + 1 if outcome == state.last_outcome else 1
    failures = state.failures + 1 if outcome == DOWN else 0
    successes = state.successes + 1 if outcome != DOWN else 0
    confirmed = state.confirmed
    if outcome == DOWN:
        if failures >= failure_threshold:
            confirmed = DOWN
    elif confirmed in (PENDING, DOWN):
        if successes >= success_threshold:
            confirmed = outcome
    elif outcome != confirmed:
        threshold = failure_threshold if _RANK[outcome] > _RANK[confirmed] else success_threshold
        if same >= threshold:
            confirmed = outcome
    return LocationState(
        status=confirmed, last_outcome=outcome, failures=failures, successes=successes, same=same, confirmed=confirmed
    )


def combine(statuses: Iterable[str], *, quorum: int, previous: str) -> str:
    """The probe's state from its locations' states."""
    statuses = list(statuses)
    quorum = max(1, min(quorum, len(statuses))) if statuses else 1
    down = sum(1 for s in statuses if s == DOWN)
    degraded = sum(1 for s in statuses if s == DEGRADED)
    up = sum(1 for s in statuses if s == UP)
    if down >= quorum:
        return DOWN
    if down + degraded >= quorum:
        return DEGRADED
    if up:
        return UP
    if up + down + degraded == 0:
        if statuses and all(s == NO_DATA for s in statuses):
            return NO_DATA if previous in (PENDING, NO_DATA) else previous
        return previous
    # some locations say down or degraded, too few to make a quorum, none says up
    return previous if previous != PENDING else PENDING
