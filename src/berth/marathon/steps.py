"""What one deployment action needs right now: the level-triggered step logic.

`decide` looks at an immutable snapshot of an app's instances and says what to do now:
how many instances to launch, which to kill, and whether the action is done. It keeps no
memory between calls; the deployment manager calls it again whenever the app's instances
change (or on a timer) and carries out the answer, so a lost event, a restart of the
orchestrator or a leader change costs nothing but one more call. It must therefore be
idempotent: on the snapshot that results from carrying out its answer, it asks for
nothing more. Two habits make that hold:

* an instance being killed (goal ``stopped``) is never killed again, and still holds its
  resources (counts against ``maxCapacity``) until it is terminal;
* a launched instance counts from the moment it is queued (state ``scheduled``).

How the shell carries out a decision: ``launch`` new instances of the target version
(queued as ``scheduled``, goal ``running``); for each id in ``kill``, set the goal to
``stopped`` and kill its task (or just drop it from the queue if it has none); an
unreachable instance whose goal is ``stopped`` is expunged, since its agent cannot
confirm a kill. An instance whose task ended while its goal is still ``running`` is
launched again by the shell and must be shown as ``scheduled``, not ``terminal``.

Glossary (buckets of `classify_instance`, first matching rule wins)::

    gone        terminal, or killed while unreachable: ignored
    dying       goal stopped, not yet terminal: holds capacity, never killed twice
    inactive    unreachable past inactiveAfterSeconds: replaced, holds no capacity
    unreachable unreachable, may come back: an instance, never healthy
    relaunching killed without scale (state killing, goal running): comes back
    launching   scheduled, staging or starting
    unhealthy   running; health checks failing
    unproven    running; health checks but no result yet
    unready     running and healthy, readiness checks not passed yet
    serving     running, healthy and ready

Reference sections 3.2 (rolling restart), 3.3 (scaling, killSelection), 3.7 (unreachable).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, assert_never

from berth.marathon.deployment import Action

State = Literal[
    "scheduled",
    "staging",
    "starting",
    "running",
    "killing",
    "unreachable",
    "unreachable_inactive",
    "terminal",
]
GoalName = Literal["running", "stopped"]
KillSelection = Literal["YOUNGEST_FIRST", "OLDEST_FIRST"]
Bucket = Literal[
    "gone",
    "dying",
    "inactive",
    "unreachable",
    "relaunching",
    "launching",
    "unhealthy",
    "unproven",
    "unready",
    "serving",
]
UnreachableVerdict = Literal["wait", "replace", "expunge"]


@dataclass(frozen=True, slots=True)
class InstanceView:
    """What the step logic needs to know about one instance.

    ``version`` is the app config version it runs. ``healthy`` is None when the app has
    no health checks or no result came yet. ``ready`` is True when readiness checks
    passed or the app has none. ``started_at``/``staged_at``/``unreachable_since`` are
    seconds on the caller's clock.
    """

    instance_id: str
    version: str
    state: State
    healthy: bool | None = None
    has_health_checks: bool = False
    ready: bool = True
    started_at: float | None = None
    staged_at: float | None = None
    goal: GoalName = "running"
    unreachable_since: float | None = None


@dataclass(frozen=True, slots=True)
class UpgradeStrategy:
    """``upgradeStrategy``: both are fractions of the target instance count, 0..1."""

    minimum_health_capacity: float = 1.0
    maximum_over_capacity: float = 1.0


@dataclass(frozen=True, slots=True)
class UnreachableStrategy:
    """``unreachableStrategy`` when enabled (``"disabled"`` is passed as None)."""

    inactive_after_seconds: float = 0.0
    expunge_after_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class StepDecision:
    """What to do now for one action: launch ``launch`` new instances of the target
    version, kill the instances ``kill`` names; ``done`` once the action is complete
    (then nothing is asked). ``reason`` says why, for logs and for humans."""

    launch: int
    kill: tuple[str, ...]
    done: bool
    reason: str


# Picks scale-down victims: (candidates, how many to kill) -> ids of the ones to kill.
ChooseVictims = Callable[[Sequence[InstanceView], int], Sequence[str]]


# --------------------------------------------------------------------------------------
# Classification

_Rule = tuple[Callable[[InstanceView], bool], Bucket]

INSTANCE_RULES: tuple[_Rule, ...] = (
    # Terminal instances are history: they hold nothing and are never killed again.
    (lambda i: i.state == "terminal", "gone"),
    # Killed while unreachable: the agent cannot confirm the kill, so the instance is
    # expunged (as Marathon does) instead of holding a deployment until it returns.
    (lambda i: i.goal == "stopped" and i.state in ("unreachable", "unreachable_inactive"), "gone"),
    # Being killed for good: its task may still run and hold resources until terminal.
    (lambda i: i.goal == "stopped", "dying"),
    # Unreachable past inactiveAfterSeconds: a replacement has taken its place.
    (lambda i: i.state == "unreachable_inactive", "inactive"),
    # Unreachable, not yet inactive: still counts as an instance (it may come back).
    (lambda i: i.state == "unreachable", "unreachable"),
    # Killed without scale: the task ends but the same instance is launched again.
    (lambda i: i.state == "killing", "relaunching"),
    # Queued, staging or starting: counts as launched, not yet running.
    (lambda i: i.state != "running", "launching"),
    # Running, and failing its health checks.
    (lambda i: i.has_health_checks and i.healthy is False, "unhealthy"),
    # Running, with health checks but no result yet (within the grace period, or just
    # after a leader change: Berth runs HTTP/TCP checks itself and starts afresh).
    (lambda i: i.has_health_checks and i.healthy is None, "unproven"),
    # Running and healthy, but readiness checks have not passed yet.
    (lambda i: not i.ready, "unready"),
    # Running, healthy and ready.
    (lambda i: True, "serving"),
)

# Instances that are (or will be) one of the app's N: what scaling counts.
ACTIVE: frozenset[Bucket] = frozenset(
    {"unreachable", "relaunching", "launching", "unhealthy", "unproven", "unready", "serving"}
)
# What occupies a slot of maxCapacity during a restart: the active plus the dying.
HOLDS_CAPACITY: frozenset[Bucket] = ACTIVE | {"dying"}
# An old instance "counts as healthy" (section 3.2): running and passing health checks.
HEALTHY: frozenset[Bucket] = frozenset({"unready", "serving"})


def classify_instance(instance: InstanceView) -> Bucket:
    """The instance's bucket: the first rule of `INSTANCE_RULES` that matches.

    >>> classify_instance(InstanceView("i1", "v1", "running", has_health_checks=True))
    'unproven'
    >>> classify_instance(InstanceView("i1", "v1", "running", goal="stopped"))
    'dying'
    """
    for matches, bucket in INSTANCE_RULES:
        if matches(instance):
            return bucket
    raise AssertionError("the last rule matches everything")  # pragma: no cover


_RankRule = tuple[Callable[[InstanceView], bool], int]

KILL_RANK_RULES: tuple[_RankRule, ...] = (
    # Unreachable first: it serves nothing and may never come back.
    (lambda i: i.state in ("unreachable", "unreachable_inactive"), 0),
    # Already being killed (without scale): stopping it for good only cancels a relaunch.
    # Marathon ranks it "other"; first is cheaper and changes nothing that serves.
    (lambda i: i.state == "killing", 1),
    # Queued, never launched: cancelling costs nothing. Marathon ranks it "other" and
    # would kill a running instance instead.
    (lambda i: i.state == "scheduled", 2),
    # Then the least advanced: staging, starting, running.
    (lambda i: i.state == "staging", 3),
    (lambda i: i.state == "starting", 4),
    (lambda i: i.state == "running", 5),
    # Anything else last.
    (lambda i: True, 6),
)


def kill_rank(instance: InstanceView) -> int:
    """Scale-down preference by state, lower killed first (section 3.3).

    >>> [kill_rank(InstanceView("i", "v", s)) for s in ("unreachable", "staging", "running")]
    [0, 3, 5]
    """
    for matches, rank in KILL_RANK_RULES:
        if matches(instance):
            return rank
    raise AssertionError("the last rule matches everything")  # pragma: no cover


def kill_order(
    instances: Iterable[InstanceView], kill_selection: KillSelection
) -> list[InstanceView]:
    """``instances`` in the order scale-down kills them: by `kill_rank`, then by age.

    ``YOUNGEST_FIRST`` kills the most recently started (or staged) first,
    ``OLDEST_FIRST`` the oldest; an instance never staged counts as the youngest.
    Instance ids break the remaining ties, so the order is deterministic.

    >>> a = InstanceView("a", "v", "running", started_at=10.0)
    >>> b = InstanceView("b", "v", "running", started_at=20.0)
    >>> c = InstanceView("c", "v", "staging", staged_at=5.0)
    >>> [i.instance_id for i in kill_order([a, b, c], "YOUNGEST_FIRST")]
    ['c', 'b', 'a']
    >>> [i.instance_id for i in kill_order([a, b, c], "OLDEST_FIRST")]
    ['c', 'a', 'b']
    """

    def key(i: InstanceView) -> tuple[int, float, str]:
        moment = i.started_at if i.started_at is not None else i.staged_at
        age = math.inf if moment is None else moment  # never staged: the youngest
        return (kill_rank(i), -age if kill_selection == "YOUNGEST_FIRST" else age, i.instance_id)

    return sorted(instances, key=key)


# --------------------------------------------------------------------------------------
# Rolling-restart bounds


def restart_bounds(n: int, upgrade: UpgradeStrategy) -> tuple[int, int]:
    """``(minHealthy, maxCapacity)`` for N target instances (section 3.2).

    Computed exactly from the decimal values: ``20 * 0.55`` is 11.000000000000002 in
    floating point, and its ceiling would demand 12 healthy instances instead of 11.

    >>> cases = [(4, 1, 1), (4, 0.5, 0), (3, 1, 0), (2, 0, 0), (10, 0.6, 0.2), (20, 0.55, 0)]
    >>> [restart_bounds(n, UpgradeStrategy(h, o)) for n, h, o in cases]
    [(4, 8), (2, 4), (3, 3), (0, 2), (6, 12), (11, 20)]
    """
    min_healthy = math.ceil(n * _exact(upgrade.minimum_health_capacity))
    max_capacity = math.floor(n * (1 + _exact(upgrade.maximum_over_capacity)))
    return min_healthy, max_capacity


def _exact(fraction: float) -> Fraction:
    # repr gives the shortest decimal that reads back as the same float: "0.55".
    return Fraction(repr(float(fraction)))


# --------------------------------------------------------------------------------------
# The decision


def decide(
    action: Action,
    target_version: str,
    target_instances: int,
    upgrade: UpgradeStrategy | tuple[float, float],
    kill_selection: KillSelection,
    instances: Sequence[InstanceView],
    *,
    resident: bool = False,
    choose_victims: ChooseVictims | None = None,
) -> StepDecision:
    """What ``action`` needs now, given the app's ``instances`` (all of them, any state).

    ``target_version`` is the config version new instances run (instances of another
    version are "old" to a restart); ``target_instances`` is N (a scale uses its own
    ``scale_to``). ``upgrade`` is the app's upgrade strategy, as a `UpgradeStrategy` or a
    ``(minimumHealthCapacity, maximumOverCapacity)`` pair; ``resident`` marks apps with
    persistent volumes (they free a slot instead of taking an extra one).
    ``choose_victims(candidates, count)`` picks which ``count`` of the candidates a scale
    down kills (after the named ones), e.g. to even out ``GROUP_BY`` constraints, which
    need to know where instances run; it must be pure and return ``count`` of their ids.
    The default is `kill_order`.

    >>> old = [InstanceView(f"o{k}", "v1", "running", started_at=k) for k in range(3)]
    >>> decide(Action("RestartApplication", "/a"), "v2", 3, (1.0, 0.0), "YOUNGEST_FIRST", old)
    StepDecision(launch=1, kill=(), done=False, reason='...')
    >>> decide(Action("ScaleApplication", "/a", scale_to=1), "v1", 1, (1, 1), "YOUNGEST_FIRST", old)
    StepDecision(launch=0, kill=('o2', 'o1'), done=False, reason='...')
    """
    strategy = upgrade if isinstance(upgrade, UpgradeStrategy) else UpgradeStrategy(*upgrade)
    views = [(i, classify_instance(i)) for i in instances]
    kind = action.kind
    if kind == "StartApplication":
        # Marathon starts a new app with 0 instances; the following scale launches them.
        return StepDecision(0, (), True, "app created with 0 instances")
    if kind == "StopApplication":
        return _stop(views, kill_selection)
    if kind == "ScaleApplication":
        n = action.scale_to if action.scale_to is not None else target_instances
        return _scale(n, action.kill, kill_selection, views, choose_victims)
    if kind == "RestartApplication":
        return _restart(target_instances, target_version, strategy, resident, kill_selection, views)
    assert_never(kind)


_Views = Sequence[tuple[InstanceView, Bucket]]


def _stop(views: _Views, kill_selection: KillSelection) -> StepDecision:
    victims = [i for i, b in views if b not in ("gone", "dying")]
    remaining = sum(1 for _, b in views if b != "gone")
    if victims:
        reason = f"killing {len(victims)} instance(s)"
    elif remaining:
        reason = f"waiting for {remaining} instance(s) to stop"
    else:
        reason = "all instances stopped"
    return StepDecision(0, _ids(kill_order(victims, kill_selection)), remaining == 0, reason)


def _scale(
    n: int,
    named: Collection[str],
    kill_selection: KillSelection,
    views: _Views,
    choose_victims: ChooseVictims | None,
) -> StepDecision:
    # Explicitly named instances go first (a kill with scale=true), whatever their state;
    # the ones already dying or gone need nothing more.
    sentenced = [i for i, b in views if i.instance_id in named and b not in ("gone", "dying")]
    counted = [i for i, b in views if b in ACTIVE and i.instance_id not in named]
    surplus = max(0, len(counted) - n)
    if choose_victims is None or surplus == 0:
        chosen = kill_order(counted, kill_selection)[:surplus]
    else:
        by_id = {i.instance_id: i for i in counted}
        chosen = [by_id[instance_id] for instance_id in choose_victims(counted, surplus)]
        # A chooser that returns the wrong instances is a bug, not a reason to over-kill.
        if len({i.instance_id for i in chosen}) != surplus:
            raise AssertionError(f"choose_victims returned {len(chosen)}, wanted {surplus}")
    victims = sentenced + chosen
    launch = max(0, n - len(counted))
    # Done when exactly N instances remain, all serving, and every kill is confirmed.
    # Instances of any version count: a scale does not change what instances run.
    not_serving = sum(1 for i, b in views if b in ACTIVE and b != "serving")
    dying = sum(1 for _, b in views if b == "dying")
    done = not victims and launch == 0 and not_serving == 0 and dying == 0
    if done:
        reason = f"scaled to {n}"
    else:
        parts = [f"{len(counted)} of {n} instance(s)"]
        if launch:
            parts.append(f"launching {launch}")
        if victims:
            parts.append(f"killing {len(victims)}")
        if not_serving:
            parts.append(f"waiting for {not_serving} to run (healthy, ready)")
        if dying:
            parts.append(f"waiting for {dying} to stop")
        reason = "; ".join(parts)
    return StepDecision(launch, _ids(victims), done, reason)


def _restart(
    n: int,
    version: str,
    upgrade: UpgradeStrategy,
    resident: bool,
    kill_selection: KillSelection,
    views: _Views,
) -> StepDecision:
    """Section 3.2, stated as levels rather than as a sequence of events.

    Marathon's actor kills ``H - minHealthy`` old instances at the start (unhealthy ones
    first) and then one old instance per new one that becomes healthy and ready. Here
    both are one rule: keep ``minHealthy - (new healthy and ready)`` running old
    instances, the healthiest, and kill the others. It launches new instances while
    everything holding resources (old, new, and the dying until they are gone) stays
    below maxCapacity. Worked (all old healthy): N=10, 0.6/0.2 -> minHealthy 6,
    maxCapacity 12: keep 6 old, kill 4 now; 10 still hold resources, so launch 12-10 = 2
    now; as the 4 die, 4 more; each new one that becomes healthy lets one more old go.
    """
    old = [(i, b) for i, b in views if i.version != version and b in ACTIVE | {"inactive"}]
    new = [(i, b) for i, b in views if i.version == version and b in ACTIVE]
    # Old instances that may serve: running, healthy or not yet checked. Right after a
    # leader change no health result is known, and killing every instance without one
    # would take the app down; they are kept (or not) like healthy ones, ranked below.
    old_running = [(i, b) for i, b in old if b in _MAY_SERVE]
    # The others serve nothing (failing checks, unreachable, inactive, queued, starting):
    # they go now, which is Marathon's "unhealthy first".
    old_idle = [i for i, b in old if b not in _MAY_SERVE]
    old_healthy = [i for i, b in old_running if b in HEALTHY]
    new_ok = [i for i, b in new if b == "serving"]
    healthy = len(old_healthy) + len(new_ok)
    holding = sum(1 for _, b in views if b in HOLDS_CAPACITY)

    min_healthy, max_capacity = restart_bounds(n, upgrade)
    floor = min_healthy
    if min_healthy == max_capacity <= healthy:
        # No room to swap at all (both bounds are N): without this nothing could ever
        # start. A non-resident app gets one extra instance; a resident one cannot (its
        # volumes hold the slot), so it gives one healthy instance up instead.
        if resident:
            floor -= 1
        else:
            max_capacity += 1

    # Keep just enough running old instances for minHealthy, healthy ones first. As new
    # instances become healthy and ready, fewer are kept: one old goes per new one. This
    # also kills at least the surplus when more old instances than N exist (left by a
    # forced deployment), since floor <= N.
    keep = max(0, floor - len(new_ok))
    by_health = _weakest_first(old_running, kill_selection)
    victims = kill_order(old_idle, kill_selection) + by_health[: max(0, len(by_health) - keep)]
    # More new instances than N (one came back from being unreachable): the surplus goes,
    # the least advanced first.
    new_surplus = max(0, len(new) - n)
    victims += _weakest_first(new, kill_selection)[:new_surplus]

    launch = max(0, min(n - len(new), max_capacity - holding))
    old_left = sum(1 for i, b in views if i.version != version and b != "gone")
    done = old_left == 0 and len(new) == n and len(new_ok) == n
    if done:
        reason = f"{n} instance(s) of {version} healthy and ready, no old instance left"
    else:
        reason = (
            f"old {len(old)} ({len(old_healthy)} healthy), new {len(new)} "
            f"({len(new_ok)} healthy and ready) of {n}; minHealthy {floor}, "
            f"maxCapacity {max_capacity}, holding {holding}"
        )
        if launch:
            reason += f"; launching {launch}"
        if victims:
            reason += f"; killing {len(victims)}"
    return StepDecision(launch, _ids(victims), done, reason)


def _weakest_first(
    views: Iterable[tuple[InstanceView, Bucket]], kill_selection: KillSelection
) -> list[InstanceView]:
    """Not running, unhealthy, unproven, unready, serving; each part in `kill_order`."""
    items = list(views)
    strength = {i.instance_id: _STRENGTH.get(b, 0) for i, b in items}
    ordered = kill_order((i for i, _ in items), kill_selection)
    return sorted(ordered, key=lambda i: strength[i.instance_id])  # stable: keeps the order


_STRENGTH: dict[Bucket, int] = {"unhealthy": 1, "unproven": 2, "unready": 3, "serving": 4}
_MAY_SERVE: frozenset[Bucket] = frozenset({"unproven", "unready", "serving"})


def _ids(instances: Iterable[InstanceView]) -> tuple[str, ...]:
    return tuple(i.instance_id for i in instances)


# --------------------------------------------------------------------------------------
# Unreachable instances


def unreachable_decision(
    instance: InstanceView, strategy: UnreachableStrategy | None, now: float
) -> UnreachableVerdict:
    """How an unreachable instance is to be treated at ``now`` (section 3.7).

    ``"wait"``: leave it be (it still counts as an instance); ``"replace"``: it is
    UnreachableInactive (no longer counted, so a replacement launches); ``"expunge"``:
    forget it (kill it if it ever comes back). The verdict is a level: the shell applies
    it if the instance is not already so. ``strategy`` None is ``"disabled"``. Reachable
    instances always get ``"wait"``. An unknown ``unreachable_since`` counts as ``now``.

    >>> u = InstanceView("i", "v", "unreachable", unreachable_since=100.0)
    >>> s = UnreachableStrategy(inactive_after_seconds=300, expunge_after_seconds=600)
    >>> [unreachable_decision(u, s, t) for t in (200.0, 400.0, 700.0)]
    ['wait', 'replace', 'expunge']
    >>> unreachable_decision(u, UnreachableStrategy(0, 0), 100.0)
    'expunge'
    """
    # Reachable instances are none of this policy's business.
    if instance.state not in ("unreachable", "unreachable_inactive"):
        return "wait"
    # "disabled" (resident apps): never replace, never forget; wait for the agent.
    if strategy is None:
        return "wait"
    elapsed = now - (instance.unreachable_since if instance.unreachable_since is not None else now)
    # Past expungeAfterSeconds: forgotten. Checked first, since {0, 0} means both at once.
    if elapsed >= strategy.expunge_after_seconds:
        return "expunge"
    # Past inactiveAfterSeconds: replaced, but remembered in case it comes back.
    if elapsed >= strategy.inactive_after_seconds:
        return "replace"
    # Not yet: it may come back.
    return "wait"


def unreachable_recheck_at(
    instance: InstanceView, strategy: UnreachableStrategy | None, now: float
) -> float | None:
    """When `unreachable_decision` may next change for this instance (None: never).

    The shell's loop looks again then (Marathon's reconciliation cycle is what makes the
    strategy's times lower bounds).

    >>> u = InstanceView("i", "v", "unreachable", unreachable_since=100.0)
    >>> unreachable_recheck_at(u, UnreachableStrategy(300, 600), 200.0)
    400.0
    """
    if instance.state not in ("unreachable", "unreachable_inactive") or strategy is None:
        return None
    since = instance.unreachable_since if instance.unreachable_since is not None else now
    for after in sorted((strategy.inactive_after_seconds, strategy.expunge_after_seconds)):
        if since + after > now:
            return float(since + after)
    return None
