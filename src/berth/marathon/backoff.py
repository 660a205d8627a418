"""Launch backoff: how long an app config version waits before its next launch.

Marathon keeps one delay per (app id, config version) (reference section 3.4). The first
failure sets it to ``backoffSeconds``; each further failure multiplies it by
``backoffFactor``; both are capped at ``maxLaunchDelaySeconds``. With backoff 1, factor 2
and cap 300 the waits are 1, 2, 4, ..., 256, 300, 300, ...

A delay is forgotten (reset) when a new config version is deployed, on restart, app
delete, ``DELETE /v2/queue/{id}/delay``, agent-drain kills -- all decided by the caller,
who simply drops it -- and on its own once it is older than ``maxLaunchDelaySeconds``
past its reference time (the time of the failure that last set it): an app that has
stayed up that long is treated as healthy again. Scaling does not reset it.

Everything here is pure: time is passed in, never read. The shell keeps the
``{(app_id, config_version): Delay}`` map and prunes it with `expired`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from berth.core.jsonutil import JSON
from berth.core.states import TaskState

# Terminal states that count as a launch failure and grow the delay. TASK_KILLED does
# not: Berth (or a user) asked for it. FINISHED does, even with exit code 0: an app is
# meant to keep running, so a task that ends is a crash loop like any other.
GROWS_DELAY: frozenset[TaskState] = frozenset(
    {TaskState.FAILED, TaskState.FINISHED, TaskState.ERROR, TaskState.DROPPED, TaskState.GONE}
)


def grows_delay(state: TaskState) -> bool:
    """Whether a task ending in ``state`` lengthens its app's launch delay.

    >>> grows_delay(TaskState.FINISHED), grows_delay(TaskState.KILLED)
    (True, False)
    """
    return state in GROWS_DELAY


@dataclass(frozen=True, slots=True)
class Backoff:
    """An app's backoff settings (``backoffSeconds``, ``backoffFactor``,
    ``maxLaunchDelaySeconds``), with Marathon's defaults."""

    seconds: float = 1.0
    factor: float = 1.15
    max_seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class Delay:
    """The current launch delay of one config version.

    ``since`` is the reference time (when the last failure set it), ``current`` its length
    in seconds, ``failures`` how many failures built it up. Launches may resume at
    ``since + current``.
    """

    since: float
    current: float
    failures: int

    @property
    def deadline(self) -> float:
        return self.since + self.current


def expired(delay: Delay, backoff: Backoff, now: float) -> bool:
    """Whether ``delay`` is older than ``maxLaunchDelaySeconds`` and so forgotten.

    >>> expired(Delay(since=0.0, current=8.0, failures=4), Backoff(max_seconds=300), 300.5)
    True
    """
    return now > delay.since + backoff.max_seconds


def after_failure(delay: Delay | None, backoff: Backoff, now: float) -> Delay:
    """The delay after one more failure at ``now`` (``delay`` None: no delay so far).

    >>> b = Backoff(seconds=1, factor=2, max_seconds=300)
    >>> d, waits = None, []
    >>> for _ in range(11):
    ...     d = after_failure(d, b, now=0.0)
    ...     waits.append(d.current)
    >>> waits
    [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0]
    """
    if delay is None or expired(delay, backoff, now):
        return Delay(since=now, current=_capped(backoff.seconds, backoff), failures=1)
    return Delay(
        since=now,
        current=_capped(delay.current * backoff.factor, backoff),
        failures=delay.failures + 1,
    )


def time_left(delay: Delay | None, now: float) -> float:
    """Seconds until launches may resume (0 when there is no delay or it has passed).

    >>> time_left(Delay(since=10.0, current=4.0, failures=3), now=11.5)
    2.5
    """
    if delay is None:
        return 0.0
    return max(0.0, delay.deadline - now)


def overdue(delay: Delay | None, now: float) -> bool:
    """``/v2/queue``'s ``overdue``: not backed off, only waiting for offers.

    >>> overdue(None, 5.0), overdue(Delay(since=0.0, current=4.0, failures=3), 3.0)
    (True, False)
    """
    return time_left(delay, now) == 0.0


def delay_json(delay: Delay | None, now: float) -> JSON:
    """The ``delay`` object of a ``/v2/queue`` item (whole seconds, as Marathon).

    >>> delay_json(Delay(since=0.0, current=4.0, failures=3), 1.5)
    {'timeLeftSeconds': 2, 'overdue': False}
    """
    return {"timeLeftSeconds": math.floor(time_left(delay, now)), "overdue": overdue(delay, now)}


def _capped(seconds: float, backoff: Backoff) -> float:
    return float(min(seconds, backoff.max_seconds))
