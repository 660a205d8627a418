"""The step logic: worked examples of reference 3.2/3.3/3.7, and safety properties over a
simulated world that carries out each decision and moves instances along at random."""

from __future__ import annotations

import dataclasses
import doctest
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import berth.marathon.steps as steps_module
from berth.marathon.deployment import Action
from berth.marathon.steps import (
    ACTIVE,
    HEALTHY,
    HOLDS_CAPACITY,
    InstanceView,
    KillSelection,
    StepDecision,
    UnreachableStrategy,
    UpgradeStrategy,
    classify_instance,
    decide,
    kill_order,
    restart_bounds,
    unreachable_decision,
    unreachable_recheck_at,
)

RESTART = Action("RestartApplication", "/app")
STOP = Action("StopApplication", "/app")
START = Action("StartApplication", "/app")


def scale(n: int, *kill: str) -> Action:
    return Action("ScaleApplication", "/app", scale_to=n, kill=kill)


def test_docstring_examples() -> None:
    failures, _ = doctest.testmod(steps_module, optionflags=doctest.ELLIPSIS)
    assert failures == 0


# --------------------------------------------------------------------------- factories


def running(
    instance_id: str, version: str = "v1", started_at: float = 0.0, **changes: object
) -> InstanceView:
    """A running instance that passes everything (no health checks)."""
    view = InstanceView(
        instance_id, version, "running", started_at=started_at, staged_at=started_at
    )
    return dataclasses.replace(view, **changes)  # type: ignore[arg-type]


def olds(n: int, version: str = "v1") -> list[InstanceView]:
    return [running(f"o{k}", version, started_at=float(k)) for k in range(n)]


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    """A tiny cluster that carries out decisions the way the shell must.

    Launches queue ``scheduled`` instances of the target version; kills set the goal to
    ``stopped``. ``advance`` moves one instance one step along: scheduled -> staging ->
    starting -> running -> healthy -> ready, unreachable -> running (it comes back), or
    killing -> terminal for the stopped.
    """

    target: str
    checks: bool = False
    readiness: bool = False
    instances: dict[str, InstanceView] = field(default_factory=dict)
    clock: float = 100.0
    launched: int = 0

    @property
    def snapshot(self) -> list[InstanceView]:
        return list(self.instances.values())

    def apply(self, decision: StepDecision) -> None:
        for instance_id in decision.kill:
            instance = self.instances[instance_id]
            assert instance.goal == "running", f"{instance_id} killed twice"
            assert instance.state != "terminal", f"{instance_id} killed after it ended"
            self.instances[instance_id] = dataclasses.replace(instance, goal="stopped")
        for _ in range(decision.launch):
            self.launched += 1
            instance_id = f"n{self.launched}"
            self.instances[instance_id] = InstanceView(
                instance_id,
                self.target,
                "scheduled",
                has_health_checks=self.checks,
                ready=not self.readiness,
            )

    def movable(self) -> list[str]:
        return [k for k, i in self.instances.items() if _next(i, self.clock) is not None]

    def advance(self, instance_id: str) -> None:
        self.clock += 1.0
        moved = _next(self.instances[instance_id], self.clock)
        assert moved is not None
        self.instances[instance_id] = moved

    def fail(self, instance_id: str) -> None:
        """The task dies with its goal still running: the shell launches it again."""
        instance = self.instances[instance_id]
        self.instances[instance_id] = dataclasses.replace(
            instance,
            state="scheduled",
            healthy=None,
            ready=not self.readiness,
            started_at=None,
            staged_at=None,
        )

    def flap(self, instance_id: str) -> None:
        """A running instance fails its health checks (until `advance` heals it)."""
        self.instances[instance_id] = dataclasses.replace(
            self.instances[instance_id], healthy=False
        )


def _next(i: InstanceView, now: float) -> InstanceView | None:
    replace = dataclasses.replace
    if i.state == "terminal":
        return None
    if i.goal == "stopped":
        return replace(i, state="killing" if i.state == "running" else "terminal")
    if i.state in ("unreachable", "unreachable_inactive"):
        return replace(i, state="running", unreachable_since=None)  # the agent is back
    if i.state == "scheduled":
        return replace(i, state="staging", staged_at=now)
    if i.state == "staging":
        return replace(i, state="starting")
    if i.state == "starting":
        return replace(i, state="running", started_at=now)
    if i.state == "running" and i.has_health_checks and i.healthy is not True:
        return replace(i, healthy=True)
    if i.state == "running" and not i.ready:
        return replace(i, ready=True)
    return None


def counted_healthy(instances: Iterable[InstanceView], target: str) -> int:
    """Healthy instances as section 3.2 counts them: old healthy, new healthy and ready,
    never those being killed."""
    total = 0
    for i in instances:
        bucket = classify_instance(i)
        if (i.version == target and bucket == "serving") or (
            i.version != target and bucket in HEALTHY
        ):
            total += 1
    return total


def holding(instances: Iterable[InstanceView]) -> int:
    return sum(1 for i in instances if classify_instance(i) in HOLDS_CAPACITY)


@dataclass
class Run:
    decisions: list[StepDecision]
    max_holding: int
    min_healthy: int
    world: World


def lockstep_run(
    n: int,
    upgrade: UpgradeStrategy,
    *,
    checks: bool = False,
    readiness: bool = False,
    start: Sequence[InstanceView] | None = None,
    limit: int = 200,
) -> Run:
    """A restart where every instance moves one step per round: deterministic."""
    world = World("v2", checks=checks, readiness=readiness)
    world.instances = {i.instance_id: i for i in (olds(n) if start is None else start)}
    decisions: list[StepDecision] = []
    max_holding, min_healthy = holding(world.snapshot), counted_healthy(world.snapshot, "v2")
    for _ in range(limit):
        decision = decide(RESTART, "v2", n, upgrade, "YOUNGEST_FIRST", world.snapshot)
        decisions.append(decision)
        if decision.done:
            return Run(decisions, max_holding, min_healthy, world)
        world.apply(decision)
        max_holding = max(max_holding, holding(world.snapshot))
        min_healthy = min(min_healthy, counted_healthy(world.snapshot, "v2"))
        for instance_id in world.movable():
            world.advance(instance_id)
        min_healthy = min(min_healthy, counted_healthy(world.snapshot, "v2"))
    raise AssertionError(f"restart did not finish: {decisions[-1].reason}")


# --------------------------------------------------------------------------- section 3.2 table


@pytest.mark.parametrize(
    ("n", "min_hc", "max_oc", "bounds"),
    [
        (4, 1.0, 1.0, (4, 8)),
        (4, 0.5, 0.0, (2, 4)),
        (3, 1.0, 0.0, (3, 3)),
        (2, 0.0, 0.0, (0, 2)),
        (10, 0.6, 0.2, (6, 12)),
        # Exact decimals: 20 * 0.55 is 11.000000000000002 in floating point.
        (20, 0.55, 0.0, (11, 20)),
        (3, 0.7, 0.7, (3, 5)),  # 3 * 0.7 = 2.1 -> 3; 3 * 1.7 = 5.1 -> 5
    ],
)
def test_restart_bounds(n: int, min_hc: float, max_oc: float, bounds: tuple[int, int]) -> None:
    assert restart_bounds(n, UpgradeStrategy(min_hc, max_oc)) == bounds


@pytest.mark.parametrize(
    ("n", "min_hc", "max_oc", "launch", "kills"),
    [
        (4, 1.0, 1.0, 4, 0),  # start 4 new at once
        (4, 0.5, 0.0, 0, 2),  # kill 2 old now, nothing can start yet
        (3, 1.0, 0.0, 1, 0),  # one extra: start 1 new
        (2, 0.0, 0.0, 0, 2),  # kill both old (downtime)
        (10, 0.6, 0.2, 2, 4),  # kill 4 old now and start 2 new immediately
    ],
)
def test_worked_table_first_decision(
    n: int, min_hc: float, max_oc: float, launch: int, kills: int
) -> None:
    decision = decide(RESTART, "v2", n, UpgradeStrategy(min_hc, max_oc), "YOUNGEST_FIRST", olds(n))
    assert (decision.launch, len(decision.kill), decision.done) == (launch, kills, False)


@pytest.mark.parametrize(
    ("n", "min_hc", "max_oc", "cap"),
    [(4, 1.0, 1.0, 8), (4, 0.5, 0.0, 4), (3, 1.0, 0.0, 4), (2, 0.0, 0.0, 2), (10, 0.6, 0.2, 12)],
)
@pytest.mark.parametrize(("checks", "readiness"), [(False, False), (True, True)])
def test_worked_table_full_runs(
    n: int, min_hc: float, max_oc: float, cap: int, checks: bool, readiness: bool
) -> None:
    upgrade = UpgradeStrategy(min_hc, max_oc)
    run = lockstep_run(n, upgrade, checks=checks, readiness=readiness)
    min_healthy, _ = restart_bounds(n, upgrade)
    assert run.max_holding <= cap
    assert run.min_healthy >= min_healthy
    final = [i for i in run.world.snapshot if i.state != "terminal"]
    assert len(final) == n
    assert all(i.version == "v2" and classify_instance(i) == "serving" for i in final)


def test_default_strategy_swaps_one_old_per_new_healthy() -> None:
    # N=4, 1/1: 4 new start at once; each one that becomes healthy lets one old go.
    world = World("v2", checks=True)
    world.instances = {i.instance_id: i for i in olds(4)}
    upgrade = UpgradeStrategy(1.0, 1.0)
    first = decide(RESTART, "v2", 4, upgrade, "YOUNGEST_FIRST", world.snapshot)
    world.apply(first)
    for _ in range(3):  # staging, starting, running (not healthy yet)
        for instance_id in [k for k in world.instances if k.startswith("n")]:
            world.advance(instance_id)
    waiting = decide(RESTART, "v2", 4, upgrade, "YOUNGEST_FIRST", world.snapshot)
    assert (waiting.launch, waiting.kill) == (0, ())
    world.advance("n1")  # healthy
    world.advance("n3")  # healthy
    swap = decide(RESTART, "v2", 4, upgrade, "YOUNGEST_FIRST", world.snapshot)
    # Two old go, youngest first (o3 started last).
    assert (swap.launch, swap.kill) == (0, ("o3", "o2"))


def test_one_extra_instance_sequence() -> None:
    # N=3, 1/0: minHealthy = maxCapacity = 3 <= H, so one extra instance is allowed:
    # start 1 new, kill 1 old when it is healthy, start the next when the old is gone.
    upgrade = UpgradeStrategy(1.0, 0.0)
    world = World("v2")
    world.instances = {i.instance_id: i for i in olds(3)}

    def now() -> StepDecision:
        return decide(RESTART, "v2", 3, upgrade, "OLDEST_FIRST", world.snapshot)

    assert (now().launch, now().kill) == (1, ())
    world.apply(now())
    for _ in range(3):
        assert (now().launch, now().kill) == (0, ())
        world.advance("n1")
    assert (now().launch, now().kill) == (0, ("o0",))  # OLDEST_FIRST
    world.apply(now())
    assert (now().launch, now().kill) == (0, ())  # o0 still holds its slot
    world.advance("o0")  # killing
    world.advance("o0")  # terminal
    assert (now().launch, now().kill) == (1, ())


def test_no_extra_instance_when_not_all_healthy() -> None:
    # The extra instance is only granted when minHealthy <= H: with one old failing its
    # checks H = 2 < 3. The failing one goes at once (it serves nothing) and its slot is
    # reused when it is gone.
    upgrade = UpgradeStrategy(1.0, 0.0)
    start = [*olds(2), running("o2", has_health_checks=True, healthy=False)]
    decision = decide(RESTART, "v2", 3, upgrade, "YOUNGEST_FIRST", start)
    assert (decision.launch, decision.kill) == (0, ("o2",))
    gone = [*olds(2), running("o2", has_health_checks=True, state="terminal", goal="stopped")]
    decision = decide(RESTART, "v2", 3, upgrade, "YOUNGEST_FIRST", gone)
    assert (decision.launch, decision.kill) == (1, ())


def test_resident_app_gives_one_up_instead_of_taking_an_extra() -> None:
    upgrade = UpgradeStrategy(1.0, 0.0)
    decision = decide(RESTART, "v2", 3, upgrade, "YOUNGEST_FIRST", olds(3), resident=True)
    assert (decision.launch, decision.kill) == (0, ("o2",))


def test_downtime_strategy_starts_new_only_when_old_are_gone() -> None:
    # N=2, 0/0: kill both old, then start 2 new.
    run = lockstep_run(2, UpgradeStrategy(0.0, 0.0))
    assert (run.decisions[0].launch, len(run.decisions[0].kill)) == (0, 2)
    first_launch = next(d for d in run.decisions if d.launch)
    assert first_launch.launch == 2
    assert run.max_holding == 2


def test_unhealthy_old_go_first() -> None:
    # N=4, 0.5/0 kills 2 old now: the unhealthy one is among them whatever its age.
    start = [*olds(3), running("sick", started_at=-5.0, has_health_checks=True, healthy=False)]
    decision = decide(RESTART, "v2", 4, (0.5, 0.0), "YOUNGEST_FIRST", start)
    assert decision.kill == ("sick", "o2")


def test_old_with_unknown_health_are_kept_like_healthy_ones() -> None:
    # After a leader change no health result is known yet. Killing every "unhealthy" old
    # instance would take the app down; with minHealthy = N nothing old may go.
    start = [running(f"o{k}", has_health_checks=True, healthy=None) for k in range(3)]
    decision = decide(RESTART, "v2", 3, (1.0, 1.0), "YOUNGEST_FIRST", start)
    assert (decision.launch, decision.kill) == (3, ())


def test_old_that_serve_nothing_go_at_once() -> None:
    start = [
        *olds(2),
        InstanceView("queued", "v1", "scheduled"),
        InstanceView("lost", "v1", "unreachable_inactive"),
        InstanceView("away", "v1", "unreachable"),
    ]
    decision = decide(RESTART, "v2", 2, (1.0, 0.0), "YOUNGEST_FIRST", start)
    assert set(decision.kill) == {"queued", "lost", "away"}


def test_surplus_old_after_forced_deployment_is_killed() -> None:
    # 6 old instances for N=4 (a forced deployment stopped half way): at least 2 go.
    decision = decide(RESTART, "v2", 4, (1.0, 0.0), "YOUNGEST_FIRST", olds(6))
    assert decision.kill == ("o5", "o4")
    assert decision.launch == 0


def test_surplus_new_is_killed_least_advanced_first() -> None:
    start = [
        running("a", "v2", started_at=1.0),
        running("b", "v2", started_at=2.0),
        InstanceView("c", "v2", "staging", staged_at=3.0),
    ]
    decision = decide(RESTART, "v2", 2, (1.0, 0.0), "YOUNGEST_FIRST", start)
    assert (decision.kill, decision.launch, decision.done) == (("c",), 0, False)


def test_restart_done_only_when_old_are_gone() -> None:
    new = [running(f"n{k}", "v2") for k in range(2)]
    dying = running("o0", goal="stopped", state="killing")
    assert not decide(RESTART, "v2", 2, (1, 1), "YOUNGEST_FIRST", [*new, dying]).done
    gone = dataclasses.replace(dying, state="terminal")
    decision = decide(RESTART, "v2", 2, (1, 1), "YOUNGEST_FIRST", [*new, gone])
    assert decision == StepDecision(0, (), True, decision.reason)


def test_restart_waits_for_readiness() -> None:
    new = [running(f"n{k}", "v2") for k in range(2)]
    unready = [new[0], dataclasses.replace(new[1], ready=False)]
    assert not decide(RESTART, "v2", 2, (1, 1), "YOUNGEST_FIRST", unready).done
    assert decide(RESTART, "v2", 2, (1, 1), "YOUNGEST_FIRST", new).done


def test_restart_to_zero_instances_stops_the_old() -> None:
    decision = decide(RESTART, "v2", 0, (1, 1), "YOUNGEST_FIRST", olds(2))
    assert (decision.launch, sorted(decision.kill), decision.done) == (0, ["o0", "o1"], False)


# --------------------------------------------------------------------------- restart properties


upgrades = st.builds(
    UpgradeStrategy,
    st.integers(0, 100).map(lambda p: p / 100),
    st.integers(0, 100).map(lambda p: p / 100),
)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 10),
    upgrade=upgrades,
    checks=st.booleans(),
    readiness=st.booleans(),
    resident=st.booleans(),
    kill_selection=st.sampled_from(["YOUNGEST_FIRST", "OLDEST_FIRST"]),
    rnd=st.randoms(use_true_random=False),
)
def test_rolling_restart_is_safe_and_finishes(
    n: int,
    upgrade: UpgradeStrategy,
    checks: bool,
    readiness: bool,
    resident: bool,
    kill_selection: KillSelection,
    rnd: random.Random,
) -> None:
    """From N old healthy instances, with instances moving at random and nothing failing:
    never fewer than minHealthy healthy, never more than maxCapacity holding resources,
    and it ends with N new healthy and ready, no old. When both bounds are N, a
    non-resident app may hold one more, a resident one may drop to one fewer healthy."""
    min_healthy, cap = restart_bounds(n, upgrade)
    if min_healthy == cap and resident:
        min_healthy -= 1
    elif min_healthy == cap:
        cap += 1

    def step() -> StepDecision:
        return decide(RESTART, "v2", n, upgrade, kill_selection, world.snapshot, resident=resident)

    world = World("v2", checks=checks, readiness=readiness)
    world.instances = {i.instance_id: i for i in olds(n)}
    for _ in range(20 * n + 50):
        decision = step()
        if decision.done:
            break
        world.apply(decision)
        assert holding(world.snapshot) <= cap, decision.reason
        assert counted_healthy(world.snapshot, "v2") >= min_healthy, decision.reason
        again = step()  # idempotent: nothing more is asked of the same world
        assert (again.launch, again.kill) == (0, ()), again.reason
        movable = world.movable()
        assert movable, f"stuck: {decision.reason}"
        world.advance(rnd.choice(movable))
        assert counted_healthy(world.snapshot, "v2") >= min_healthy
    else:
        raise AssertionError("restart did not finish")
    alive = [i for i in world.snapshot if i.state != "terminal"]
    assert len(alive) == n
    assert all(i.version == "v2" and classify_instance(i) == "serving" for i in alive)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 8),
    upgrade=upgrades,
    checks=st.booleans(),
    kill_selection=st.sampled_from(["YOUNGEST_FIRST", "OLDEST_FIRST"]),
    rnd=st.randoms(use_true_random=False),
    failures=st.integers(0, 15),
)
def test_rolling_restart_under_failures(
    n: int,
    upgrade: UpgradeStrategy,
    checks: bool,
    kill_selection: KillSelection,
    rnd: random.Random,
    failures: int,
) -> None:
    """With tasks crashing (and relaunched) and health checks flapping: a decision's kills
    never take the healthy count below minHealthy (or below what it was, if already
    lower), nothing exceeds maxCapacity, and once failures stop it still finishes."""
    min_healthy, cap = restart_bounds(n, upgrade)
    if min_healthy == cap:
        cap += 1
    world = World("v2", checks=checks)
    world.instances = {i.instance_id: i for i in olds(n)}
    for tick in range(40 * n + 100 + 10 * failures):
        decision = decide(RESTART, "v2", n, upgrade, kill_selection, world.snapshot)
        if decision.done:
            break
        before = counted_healthy(world.snapshot, "v2")
        world.apply(decision)
        assert counted_healthy(world.snapshot, "v2") >= min(min_healthy, before)
        assert holding(world.snapshot) <= cap
        _assert_idempotent(world, n, upgrade, kill_selection)
        live = [
            k for k, i in world.instances.items() if i.goal == "running" and i.state != "terminal"
        ]
        if tick < 3 * failures and live and rnd.random() < 0.3:
            victim = rnd.choice(live)
            if checks and world.instances[victim].state == "running" and rnd.random() < 0.5:
                world.flap(victim)
            else:
                world.fail(victim)
            continue
        movable = world.movable()
        assert movable, f"stuck: {decision.reason}"
        world.advance(rnd.choice(movable))
    else:
        raise AssertionError("restart did not finish after failures stopped")


def _assert_idempotent(
    world: World, n: int, upgrade: UpgradeStrategy, kill_selection: KillSelection
) -> None:
    """On the snapshot that results from carrying out a decision, nothing more is asked."""
    again = decide(RESTART, "v2", n, upgrade, kill_selection, world.snapshot)
    assert (again.launch, again.kill) == (0, ()), again.reason


# --------------------------------------------------------------------------- scale


def test_scale_up_counts_everything_going_to_run() -> None:
    start = [
        running("a"),
        InstanceView("b", "v1", "scheduled"),
        InstanceView("c", "v0", "staging"),
        InstanceView("d", "v1", "starting"),
        InstanceView("e", "v1", "unreachable"),  # may come back: still counts
        InstanceView("f", "v1", "unreachable_inactive"),  # replaced: does not
        running("g", goal="stopped"),  # being killed: does not
        InstanceView("h", "v1", "terminal"),
    ]
    decision = decide(scale(7), "v1", 7, (1, 1), "YOUNGEST_FIRST", start)
    assert (decision.launch, decision.kill, decision.done) == (2, (), False)


def test_scale_down_order_and_kill_selection() -> None:
    start = [
        running("r-old", started_at=1.0),
        running("r-new", started_at=9.0),
        InstanceView("starting", "v1", "starting", staged_at=5.0),
        InstanceView("staging", "v1", "staging", staged_at=6.0),
        InstanceView("queued", "v1", "scheduled"),
        InstanceView("away", "v1", "unreachable", started_at=0.5),
    ]
    order = ("away", "queued", "staging", "starting")
    youngest = decide(scale(1), "v1", 1, (1, 1), "YOUNGEST_FIRST", start)
    assert youngest.kill == (*order, "r-new")
    oldest = decide(scale(1), "v1", 1, (1, 1), "OLDEST_FIRST", start)
    assert oldest.kill == (*order, "r-old")


def test_scale_down_victims_can_be_chosen_by_the_caller() -> None:
    # E.g. placement's GROUP_BY re-balancing, which knows where instances run.
    seen: list[tuple[list[str], int]] = []

    def choose(candidates: Sequence[InstanceView], count: int) -> list[str]:
        seen.append((sorted(i.instance_id for i in candidates), count))
        return ["o0"]

    decision = decide(
        scale(2, "o3"), "v1", 2, (1, 1), "YOUNGEST_FIRST", olds(4), choose_victims=choose
    )
    assert decision.kill == ("o3", "o0")
    assert seen == [(["o0", "o1", "o2"], 1)]


def test_a_chooser_returning_the_wrong_count_is_a_bug() -> None:
    with pytest.raises(AssertionError, match="returned 2, wanted 1"):
        decide(
            scale(2),
            "v1",
            2,
            (1, 1),
            "YOUNGEST_FIRST",
            olds(3),
            choose_victims=lambda candidates, count: ["o0", "o1"],
        )


def test_kill_order_ties_by_staged_time_when_not_started() -> None:
    a = InstanceView("a", "v", "staging", staged_at=1.0)
    b = InstanceView("b", "v", "staging", staged_at=2.0)
    assert [i.instance_id for i in kill_order([a, b], "YOUNGEST_FIRST")] == ["b", "a"]
    assert [i.instance_id for i in kill_order([a, b], "OLDEST_FIRST")] == ["a", "b"]


def test_scale_kills_named_instances_first_and_replaces_extra_ones() -> None:
    # Kill-with-scale names o0 and o1 while scaling 3 -> 2: o0 and o1 go, one new starts.
    decision = decide(scale(2, "o0", "o1"), "v1", 2, (1, 1), "YOUNGEST_FIRST", olds(3))
    assert (decision.kill, decision.launch) == (("o0", "o1"), 1)


def test_scale_does_not_kill_twice_and_waits_for_kills() -> None:
    start = [*olds(2), running("o2", goal="stopped", state="killing")]
    decision = decide(scale(2, "o2"), "v1", 2, (1, 1), "YOUNGEST_FIRST", start)
    assert (decision.launch, decision.kill, decision.done) == (0, (), False)
    finished = [*olds(2), running("o2", goal="stopped", state="terminal")]
    assert decide(scale(2, "o2"), "v1", 2, (1, 1), "YOUNGEST_FIRST", finished).done


def test_scale_done_needs_all_running_healthy_ready() -> None:
    checked = [running("a", has_health_checks=True, healthy=True), running("b")]
    assert decide(scale(2), "v1", 2, (1, 1), "YOUNGEST_FIRST", checked).done
    unhealthy = [checked[0], running("b", has_health_checks=True, healthy=None)]
    assert not decide(scale(2), "v1", 2, (1, 1), "YOUNGEST_FIRST", unhealthy).done
    unready = [checked[0], running("b", ready=False)]
    assert not decide(scale(2), "v1", 2, (1, 1), "YOUNGEST_FIRST", unready).done
    starting = [checked[0], InstanceView("b", "v1", "starting")]
    assert not decide(scale(2), "v1", 2, (1, 1), "YOUNGEST_FIRST", starting).done


def test_scale_counts_instances_of_any_version() -> None:
    assert decide(scale(2), "v2", 2, (1, 1), "YOUNGEST_FIRST", olds(2, "v1")).done


def test_instance_killed_without_scale_is_stopped_first_on_scale_down() -> None:
    # A kill without scale keeps the goal: the instance comes back, so it still counts;
    # on scale down it is the cheapest to stop for good.
    start = [*olds(2), running("k", started_at=0.0, state="killing")]
    decision = decide(scale(2), "v1", 2, (1, 1), "OLDEST_FIRST", start)
    assert (decision.kill, decision.launch) == (("k",), 0)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(0, 10),
    start=st.lists(
        st.sampled_from(["scheduled", "staging", "starting", "running", "unreachable"]),
        max_size=10,
    ),
    named=st.sets(st.integers(0, 9), max_size=3),
    checks=st.booleans(),
    kill_selection=st.sampled_from(["YOUNGEST_FIRST", "OLDEST_FIRST"]),
    rnd=st.randoms(use_true_random=False),
)
def test_scale_never_places_more_than_asked_and_converges(
    n: int,
    start: list[str],
    named: set[int],
    checks: bool,
    kill_selection: KillSelection,
    rnd: random.Random,
) -> None:
    world = World("v1", checks=checks)
    for k, state in enumerate(start):
        view = InstanceView(f"s{k}", rnd.choice(["v0", "v1"]), state)  # type: ignore[arg-type]
        world.instances[view.instance_id] = dataclasses.replace(
            view, has_health_checks=checks, staged_at=float(k), started_at=float(k)
        )
    action = scale(n, *(f"s{k}" for k in sorted(named)))
    for _ in range(200):
        decision = decide(action, "v1", n, (1, 1), kill_selection, world.snapshot)
        if decision.done:
            break
        before = _counted(world.snapshot)
        world.apply(decision)
        after = _counted(world.snapshot)
        if decision.launch:
            assert after == n  # exactly what was asked, never more
        assert after <= max(n, before)
        again = decide(action, "v1", n, (1, 1), kill_selection, world.snapshot)
        assert (again.launch, again.kill) == (0, ())
        movable = world.movable()
        assert movable, f"stuck: {decision.reason}"
        world.advance(rnd.choice(movable))
    else:
        raise AssertionError("scale did not finish")
    alive = [i for i in world.snapshot if classify_instance(i) != "gone"]
    assert len(alive) == n
    assert all(classify_instance(i) == "serving" for i in alive)
    assert not any(f"s{k}" in {i.instance_id for i in alive} for k in named)


def _counted(instances: Iterable[InstanceView]) -> int:
    return sum(1 for i in instances if classify_instance(i) in ACTIVE)


# --------------------------------------------------------------------------- start and stop


def test_start_is_done_at_once() -> None:
    assert decide(START, "v1", 3, (1, 1), "YOUNGEST_FIRST", []) == StepDecision(
        0, (), True, "app created with 0 instances"
    )


def test_stop_kills_everything_once_and_waits() -> None:
    start = [
        *olds(2),
        InstanceView("q", "v1", "scheduled"),
        InstanceView("lost", "v1", "unreachable_inactive"),
        running("k", goal="stopped", state="killing"),
        InstanceView("t", "v1", "terminal"),
    ]
    decision = decide(STOP, "v1", 0, (1, 1), "YOUNGEST_FIRST", start)
    assert sorted(decision.kill) == ["lost", "o0", "o1", "q"]
    assert not decision.done
    world = World("v1")
    world.instances = {i.instance_id: i for i in start}
    world.apply(decision)
    assert decide(STOP, "v1", 0, (1, 1), "YOUNGEST_FIRST", world.snapshot).kill == ()
    while world.movable():
        world.advance(world.movable()[0])
    # Only the unreachable one is not terminal: a stopped unreachable instance is expunged.
    assert decide(STOP, "v1", 0, (1, 1), "YOUNGEST_FIRST", world.snapshot).done


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("changes", "bucket"),
    [
        ({"state": "terminal", "goal": "stopped"}, "gone"),
        ({"state": "unreachable", "goal": "stopped"}, "gone"),
        ({"state": "running", "goal": "stopped"}, "dying"),
        ({"state": "unreachable_inactive"}, "inactive"),
        ({"state": "unreachable"}, "unreachable"),
        ({"state": "killing"}, "relaunching"),
        ({"state": "scheduled"}, "launching"),
        ({"state": "starting"}, "launching"),
        ({"has_health_checks": True, "healthy": False}, "unhealthy"),
        ({"has_health_checks": True, "healthy": None}, "unproven"),
        ({"has_health_checks": True, "healthy": True, "ready": False}, "unready"),
        ({"healthy": None}, "serving"),  # no health checks: running is enough
    ],
)
def test_classify_instance(changes: dict[str, object], bucket: str) -> None:
    view = dataclasses.replace(running("i"), **changes)  # type: ignore[arg-type]
    assert classify_instance(view) == bucket


# --------------------------------------------------------------------------- unreachable


@pytest.mark.parametrize(
    ("strategy", "elapsed", "verdict"),
    [
        (UnreachableStrategy(0, 0), 0.0, "expunge"),  # {0,0}: replace and expunge at once
        (UnreachableStrategy(300, 600), 0.0, "wait"),
        (UnreachableStrategy(300, 600), 299.0, "wait"),
        (UnreachableStrategy(300, 600), 300.0, "replace"),
        (UnreachableStrategy(300, 600), 599.0, "replace"),
        (UnreachableStrategy(300, 600), 600.0, "expunge"),
        (None, 1e9, "wait"),  # "disabled": never replace
    ],
)
def test_unreachable_decision(
    strategy: UnreachableStrategy | None, elapsed: float, verdict: str
) -> None:
    instance = InstanceView("i", "v", "unreachable", unreachable_since=1000.0)
    assert unreachable_decision(instance, strategy, 1000.0 + elapsed) == verdict
    inactive = dataclasses.replace(instance, state="unreachable_inactive")
    assert unreachable_decision(inactive, strategy, 1000.0 + elapsed) == verdict


def test_unreachable_decision_ignores_reachable_instances() -> None:
    assert unreachable_decision(running("i"), UnreachableStrategy(0, 0), 5.0) == "wait"


def test_unreachable_recheck_at() -> None:
    instance = InstanceView("i", "v", "unreachable", unreachable_since=100.0)
    strategy = UnreachableStrategy(300, 600)
    assert unreachable_recheck_at(instance, strategy, 150.0) == 400.0
    assert unreachable_recheck_at(instance, strategy, 400.0) == 700.0
    assert unreachable_recheck_at(instance, strategy, 700.0) is None
    assert unreachable_recheck_at(instance, None, 150.0) is None
