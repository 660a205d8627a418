"""Launch backoff (reference 3.4): the worked example, resets, and properties."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import berth.marathon.backoff as backoff_module
from berth.core.states import TaskState
from berth.marathon.backoff import (
    GROWS_DELAY,
    Backoff,
    Delay,
    after_failure,
    delay_json,
    expired,
    grows_delay,
    overdue,
    time_left,
)


def test_docstring_examples() -> None:
    failures, _ = doctest.testmod(backoff_module)
    assert failures == 0


def test_reference_example() -> None:
    # backoff 1, factor 2, cap 300: waits 1, 2, 4, ... 256, 300 s. Each failure happens
    # as soon as the previous delay ends, well within maxLaunchDelaySeconds of it.
    backoff = Backoff(seconds=1, factor=2, max_seconds=300)
    delay, now, waits = None, 1000.0, []
    for _ in range(10):
        delay = after_failure(delay, backoff, now)
        waits.append(delay.current)
        assert delay.since == now
        now = delay.deadline + 0.5
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert delay is not None
    assert delay.failures == 10


def test_first_failure_is_capped_too() -> None:
    assert after_failure(None, Backoff(seconds=600, max_seconds=300), 0.0).current == 300


def test_defaults_are_marathons() -> None:
    assert Backoff() == Backoff(seconds=1, factor=1.15, max_seconds=300)


def test_delay_resets_once_older_than_max_launch_delay() -> None:
    backoff = Backoff(seconds=10, factor=2, max_seconds=60)
    delay = after_failure(after_failure(None, backoff, 0.0), backoff, 0.0)
    assert delay.current == 20
    assert not expired(delay, backoff, 60.0)
    assert after_failure(delay, backoff, 60.0).current == 40  # still within: grows
    assert expired(delay, backoff, 60.5)
    fresh = after_failure(delay, backoff, 60.5)  # forgotten: starts over
    assert (fresh.current, fresh.failures, fresh.since) == (10, 1, 60.5)


def test_time_left_and_overdue() -> None:
    delay = Delay(since=100.0, current=30.0, failures=2)
    assert (time_left(delay, 100.0), overdue(delay, 100.0)) == (30.0, False)
    assert (time_left(delay, 129.0), overdue(delay, 129.0)) == (1.0, False)
    assert (time_left(delay, 130.0), overdue(delay, 130.0)) == (0.0, True)
    assert (time_left(delay, 500.0), overdue(delay, 500.0)) == (0.0, True)
    assert (time_left(None, 0.0), overdue(None, 0.0)) == (0.0, True)


def test_queue_delay_json() -> None:
    delay = Delay(since=0.0, current=10.0, failures=1)
    assert delay_json(delay, 0.2) == {"timeLeftSeconds": 9, "overdue": False}
    assert delay_json(None, 0.0) == {"timeLeftSeconds": 0, "overdue": True}


def test_which_terminal_states_grow_the_delay() -> None:
    assert {s for s in TaskState if grows_delay(s)} == {
        TaskState.FAILED,
        TaskState.FINISHED,
        TaskState.ERROR,
        TaskState.DROPPED,
        TaskState.GONE,
    }
    assert not grows_delay(TaskState.KILLED)
    assert all(s.is_terminal for s in GROWS_DELAY)


@settings(max_examples=300, deadline=None)
@given(
    seconds=st.integers(0, 100),
    factor=st.floats(1.0, 4.0),
    max_seconds=st.integers(0, 3600),
    gaps=st.lists(st.floats(0, 5000), min_size=1, max_size=30),
)
def test_delay_properties(seconds: int, factor: float, max_seconds: int, gaps: list[float]) -> None:
    """Never above the cap; grows (or stays at the cap) while failures come within
    maxLaunchDelaySeconds of each other; starts over after a longer quiet spell."""
    backoff = Backoff(seconds, factor, max_seconds)
    delay: Delay | None = None
    now = 0.0
    for gap in gaps:
        now += gap
        previous = delay
        delay = after_failure(delay, backoff, now)
        assert 0 <= delay.current <= max_seconds
        assert time_left(delay, now) == pytest.approx(delay.current)
        assert time_left(delay, delay.deadline) == 0.0
        if previous is None or expired(previous, backoff, now):
            assert delay.failures == 1
            assert delay.current == min(seconds, max_seconds)
        else:
            assert delay.failures == previous.failures + 1
            assert delay.current >= previous.current
