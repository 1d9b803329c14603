"""The state machine: thresholds, no flapping, no data, quorum (with property tests)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from health.state import DEGRADED, DOWN, NO_DATA, PENDING, UP, LocationState, combine, step

OUTCOMES = st.sampled_from([UP, DEGRADED, DOWN, NO_DATA])


def walk(outcomes: list[str], f: int = 3, s: int = 2) -> list[str]:
    state = LocationState()
    seen = []
    for outcome in outcomes:
        state = step(state, outcome, failure_threshold=f, success_threshold=s)
        seen.append(state.status)
    return seen


def test_a_new_probe_is_pending_until_a_threshold_is_met() -> None:
    assert walk([UP, UP]) == [PENDING, UP]
    assert walk([DOWN, DOWN, DOWN]) == [PENDING, PENDING, DOWN]


def test_one_failure_does_not_flip_an_up_probe() -> None:
    assert walk([UP, UP, DOWN, UP, DOWN, DOWN, UP]) == [PENDING, UP, UP, UP, UP, UP, UP]
    assert walk([UP, UP, DOWN, DOWN, DOWN]) == [PENDING, UP, UP, UP, DOWN]


def test_recovery_needs_the_success_threshold() -> None:
    assert walk([DOWN] * 3 + [UP, DOWN, UP, UP]) == [PENDING, PENDING, DOWN, DOWN, DOWN, DOWN, UP]
    assert walk([DOWN] * 3 + [DEGRADED, UP]) == [PENDING, PENDING, DOWN, DOWN, UP]  # not down twice: out of down


def test_no_data_shows_but_holds_the_counters() -> None:
    assert walk([UP, UP, DOWN, NO_DATA, DOWN, DOWN]) == [PENDING, UP, UP, NO_DATA, UP, DOWN]


@given(st.lists(OUTCOMES, max_size=40), st.integers(1, 5), st.integers(1, 5))
def test_down_only_after_enough_consecutive_failures(outcomes: list[str], f: int, s: int) -> None:
    state = LocationState()
    run = 0  # consecutive down results, ignoring no data
    for outcome in outcomes:
        before = state
        state = step(state, outcome, failure_threshold=f, success_threshold=s)
        if outcome != NO_DATA:
            run = run + 1 if outcome == DOWN else 0
        if state.status == DOWN and before.confirmed != DOWN:
            assert run >= f
        if outcome == DOWN and run >= f:
            assert state.status == DOWN


@given(st.lists(OUTCOMES, max_size=40), st.integers(1, 5), st.integers(1, 5))
def test_leaving_down_needs_enough_consecutive_successes(outcomes: list[str], f: int, s: int) -> None:
    state = LocationState()
    run = 0
    for outcome in outcomes:
        before = state
        state = step(state, outcome, failure_threshold=f, success_threshold=s)
        if outcome != NO_DATA:
            run = run + 1 if outcome != DOWN else 0
        if before.confirmed == DOWN and state.confirmed in (UP, DEGRADED):
            assert run >= s
        assert state.status == (NO_DATA if outcome == NO_DATA else state.confirmed)


@given(st.lists(OUTCOMES, max_size=40), st.integers(1, 5), st.integers(1, 5))
def test_the_state_changes_at_most_once_per_threshold(outcomes: list[str], f: int, s: int) -> None:
    """No flapping: between two changes of the confirmed state there are at least
    min(f, s) results."""
    state = LocationState()
    since_change = 10**6
    for outcome in outcomes:
        before = state.confirmed
        state = step(state, outcome, failure_threshold=f, success_threshold=s)
        since_change += 1
        if state.confirmed != before:
            if before != PENDING:
                assert since_change >= min(f, s)
            since_change = 0


def test_quorum_of_locations() -> None:
    assert combine([DOWN, UP, UP], quorum=2, previous=UP) == UP
    assert combine([DOWN, DOWN, UP], quorum=2, previous=UP) == DOWN
    assert combine([DOWN, DEGRADED, UP], quorum=2, previous=UP) == DEGRADED
    assert combine([DOWN], quorum=1, previous=UP) == DOWN
    # a location without data does not make an outage, nor hide one it cannot judge
    assert combine([DOWN, NO_DATA], quorum=2, previous=UP) == UP
    assert combine([NO_DATA, NO_DATA], quorum=1, previous=PENDING) == NO_DATA
    assert combine([NO_DATA, NO_DATA], quorum=1, previous=DOWN) == DOWN
    assert combine([PENDING, PENDING], quorum=1, previous=PENDING) == PENDING
    # a quorum larger than the locations counts all of them
    assert combine([DOWN, DOWN], quorum=5, previous=UP) == DOWN


@given(st.lists(st.sampled_from([UP, DEGRADED, DOWN, NO_DATA, PENDING]), min_size=1, max_size=6), st.integers(1, 6),
       st.sampled_from([UP, DEGRADED, DOWN, NO_DATA, PENDING]))  # fmt: skip
def test_down_exactly_when_a_quorum_agrees_or_it_already_was(statuses: list[str], quorum: int, previous: str) -> None:
    result = combine(statuses, quorum=quorum, previous=previous)
    needed = min(quorum, len(statuses))
    if statuses.count(DOWN) >= needed:
        assert result == DOWN
    elif result == DOWN:
        assert previous == DOWN and UP not in statuses
    if statuses.count(NO_DATA) == len(statuses) and previous not in (DOWN, DEGRADED):
        assert result != DOWN
