"""The allocator: worked examples, safety properties, and a differential test against a
from-scratch reference model of mesos.md section d (stage 2)."""

from __future__ import annotations

import doctest
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import berth.master.allocator.allocator as allocator_module
import berth.master.allocator.filters as filters_module
from berth.core.resources import Resources, role_ancestors
from berth.master.allocator import (
    DEFAULT_MIN_ALLOCATABLE,
    Allocation,
    Allocator,
    effective_refuse_seconds,
)


def node(
    cpus: float = 4, mem: float = 1024, ports: Iterable[tuple[int, int]] = ((31000, 31009),)
) -> Resources:
    """A typical agent's resources; tests tweak what they care about."""
    return Resources.of(cpus=cpus, mem=mem, ports=ports)


def make(seed: int = 0, **kwargs: object) -> Allocator:
    return Allocator(rng=random.Random(seed), **kwargs)  # type: ignore[arg-type]


def granted(grants: list[Allocation]) -> dict[str, str]:
    """agent_id -> framework_id, for grants made in one run."""
    return {g.agent_id: g.framework_id for g in grants}


def test_docstring_examples() -> None:
    for module in (allocator_module, filters_module):
        failures, _ = doctest.testmod(module)
        assert failures == 0


# --------------------------------------------------------------------------- basics


def test_one_framework_gets_everything_on_every_agent() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_agent("S2", node(cpus=2))
    a.add_framework("F1", ["*"])
    grants = a.allocate(now=0.0)
    assert sorted((g.agent_id, g.framework_id, g.role) for g in grants) == [
        ("S1", "F1", "*"),
        ("S2", "F1", "*"),
    ]
    assert {g.agent_id: g.resources for g in grants}["S2"] == node(cpus=2)
    assert a.free("S1").is_empty()
    assert a.allocate(now=1.0) == []  # nothing left to offer


def test_granted_resources_stay_allocated_until_recovered() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_framework("F1", ["*"])
    [grant] = a.allocate(0.0)
    a.recover("S1", "F1", "*", Resources.of(cpus=1, mem=100))  # e.g. a task finished
    assert a.free("S1") == Resources.of(cpus=1, mem=100)
    [again] = a.allocate(1.0)
    assert again.resources == Resources.of(cpus=1, mem=100)
    assert a.allocation("S1") == {("F1", "*"): grant.resources}


def test_drf_spreads_agents_over_frameworks() -> None:
    # Cluster: 4 agents of 4 cpus / 1024 mem = 16 cpus, 4096 mem. Each grant is a whole
    # agent, a share of .25 (cpus 4/16, mem 1024/4096). After F1 gets one agent
    # (shares: F1=.25, F2=0) F2 is next, and so on: two agents each.
    a = make()
    for i in range(4):
        a.add_agent(f"S{i}", node())
    a.add_framework("F1", ["*"])
    a.add_framework("F2", ["*"])
    grants = a.allocate(0.0)
    counts = {fw: sum(1 for g in grants if g.framework_id == fw) for fw in ("F1", "F2")}
    assert counts == {"F1": 2, "F2": 2}


def test_lowest_share_framework_is_served_first() -> None:
    # Cluster 20 cpus, 2000 mem over two agents. F1 already uses 1 cpu / 120 mem
    # (shares: cpus .05, mem .06 -> .06); F2 uses 1.2 cpus / 10 mem (shares: .06, .005 ->
    # .06). Tie on .06 -> fewer allocations (both 1) -> name: F1 first. Give F2 a bit
    # less cpu and it goes first.
    a = make()
    a.add_agent("S1", node(cpus=10, mem=1000))
    a.add_agent(
        "S2",
        node(cpus=10, mem=1000),
        used={
            ("F1", "*"): Resources.of(cpus=1, mem=120),
            ("F2", "*"): Resources.of(cpus=1.2, mem=10),
        },
    )
    a.add_framework("F1", ["*"])
    a.add_framework("F2", ["*"])
    assert a.sorted_frameworks("*") == ["F1", "F2"]
    a.recover("S2", "F2", "*", Resources.of(cpus=0.2))  # F2: cpus .05, mem .005 -> .05
    assert a.sorted_frameworks("*") == ["F2", "F1"]
    first = a.allocate(0.0, ["S1"])
    assert granted(first) == {"S1": "F2"}


def test_min_allocatable_and_agents_without_cpus_or_mem() -> None:
    a = make()
    a.add_agent("tiny", Resources.of(cpus=0.005, mem=16))  # below cpus:0.01 and mem:32
    a.add_agent("nocpu", Resources.of(mem=1024))
    a.add_agent("nomem", Resources.of(cpus=4))
    a.add_agent("memonly-free", Resources.of(cpus=0.005, mem=64))  # mem alone is enough
    a.add_framework("F1", ["*"])
    assert granted(a.allocate(0.0)) == {"memonly-free": "F1"}


def test_min_allocatable_alternatives() -> None:
    # A sequence means OR of ANDs: an offer needs 1 cpu AND 100 mem, or 10 ports.
    a = make(min_allocatable=[Resources.of(cpus=1, mem=100), Resources.of(ports=[(1, 10)])])
    a.add_agent("S1", node(cpus=1, mem=50, ports=()))
    a.add_agent("S2", node(cpus=0.5, mem=50, ports=[(1, 10)]))
    a.add_framework("F1", ["*"])
    assert granted(a.allocate(0.0)) == {"S2": "F1"}
    assert (Resources.of(cpus=0.01), Resources.of(mem=32)) == DEFAULT_MIN_ALLOCATABLE


def test_reservations_go_to_their_role_and_descendants() -> None:
    a = make()
    a.add_agent("S1", Resources.parse_text("cpus:1;mem:128;cpus(eng):2;mem(eng):256;cpus(ops):8"))
    a.add_framework("web", ["eng/web"])
    a.add_framework("any", ["*"])
    # Roles tie at share 0 and 0 allocations, so names decide: "*" before "eng" (the
    # subtree holding eng/web). "*" takes the unreserved part; eng/web then gets eng's
    # reservation, which nobody else may have. ops' reservation has no taker.
    grants = [(g.framework_id, g.role, str(g.resources)) for g in a.allocate(0.0)]
    assert grants == [
        ("any", "*", "cpus:1;mem:128"),
        ("web", "eng/web", "cpus(eng):2;mem(eng):256"),
    ]
    assert a.free("S1") == Resources.scalar("cpus", 8, "ops")


def test_multi_role_framework_gets_one_grant_per_role() -> None:
    a = make()
    a.add_agent("S1", Resources.parse_text("cpus:1;mem:64;cpus(eng):2;mem(eng):64"))
    a.add_framework("F1", ["*", "eng"])
    grants = [(g.role, g.framework_id, str(g.resources)) for g in a.allocate(0.0)]
    assert grants == [("*", "F1", "cpus:1;mem:64"), ("eng", "F1", "cpus(eng):2;mem(eng):64")]
    assert a.free("S1").is_empty()


def test_candidate_agents_limit_the_run() -> None:
    a = make()
    for agent_id in ("S1", "S2", "S3"):
        a.add_agent(agent_id, node())
    a.add_framework("F1", ["*"])
    assert set(granted(a.allocate(0.0, ["S2", "unknown"]))) == {"S2"}
    assert set(granted(a.allocate(0.0))) == {"S1", "S3"}


def test_same_seed_same_grants() -> None:
    def run(seed: int) -> list[Allocation]:
        a = make(seed)
        for i in range(20):
            a.add_agent(f"S{i}", node(cpus=1 + i % 3))
        for j in range(5):
            a.add_framework(f"F{j}", ["*"])
        return a.allocate(0.0)

    assert run(7) == run(7)
    assert [g.agent_id for g in run(7)] != [g.agent_id for g in run(8)]


def test_adding_twice_is_a_bug() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_framework("F1", ["*"])
    with pytest.raises(ValueError, match="already known"):
        a.add_agent("S1", node())
    with pytest.raises(ValueError, match="already known"):
        a.add_framework("F1", ["*"])


def test_unknown_ids_are_no_ops() -> None:
    a = make()
    a.remove_agent("nope")
    a.deactivate_agent("nope")
    a.update_agent_total("nope", node())
    a.remove_framework("nope")
    a.suppress("nope")
    a.revive("nope")
    a.recover("nope", "nope", "*", node(), refuse_seconds=5)
    a.allocate_used("nope", "F", "*", node())
    assert a.statistics().agents == 0
    with pytest.raises(KeyError):
        a.free("nope")


# --------------------------------------------------------------------------- activity


def test_suppressed_frameworks_get_nothing_until_revived() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_framework("F1", ["*"], suppressed_roles=["*"])
    assert a.allocate(0.0) == []
    a.revive("F1")
    assert granted(a.allocate(0.0)) == {"S1": "F1"}
    a.recover("S1", "F1", "*", node())
    a.suppress("F1", ["*"])
    assert a.allocate(1.0) == []
    assert a.sorted_roles() == []


def test_suppress_is_per_role() -> None:
    a = make()
    a.add_agent("S1", Resources.parse_text("cpus:1;mem:64;cpus(eng):1;mem(eng):64"))
    a.add_framework("F1", ["*", "eng"])
    a.suppress("F1", ["*"])
    [grant] = a.allocate(0.0)
    assert grant.role == "eng"


def test_deactivated_frameworks_and_agents_get_no_grants() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_framework("F1", ["*"], active=False)
    assert a.allocate(0.0) == []
    a.activate_framework("F1")
    a.deactivate_agent("S1")
    assert a.allocate(0.0) == []
    a.activate_agent("S1")
    [grant] = a.allocate(0.0)
    a.deactivate_framework("F1")
    a.recover("S1", "F1", "*", grant.resources)
    assert a.allocate(0.0) == []
    assert a.statistics().active_frameworks == 0


def test_removing_a_framework_frees_its_resources_for_others() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_framework("F1", ["*"])
    a.allocate(0.0)
    a.add_framework("F2", ["*"])
    assert a.allocate(0.0) == []
    a.remove_framework("F1")
    assert a.free("S1") == node()
    assert granted(a.allocate(0.0)) == {"S1": "F2"}
    assert a.framework_allocation("F1") == {}


def test_removing_an_agent_forgets_its_allocations() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_agent("S2", node())
    a.add_framework("F1", ["*"])
    a.allocate(0.0)
    a.remove_agent("S1")
    stats = a.statistics()
    assert stats.total == {"cpus": 4.0, "mem": 1024.0}
    assert stats.allocated == {"cpus": 4.0, "mem": 1024.0}
    assert set(a.framework_allocation("F1")) == {("*", "S2")}


def test_used_resources_of_an_unknown_framework_are_booked() -> None:
    # After a master failover an agent re-registers with tasks of a framework that has
    # not re-subscribed yet: its resources are not free, and they count for its role.
    a = make()
    a.add_agent("S1", node(), used={("ghost", "*"): Resources.of(cpus=3, mem=1000)})
    assert a.free("S1") == node(cpus=1, mem=24)
    assert a.statistics().allocated == {"cpus": 3.0, "mem": 1000.0}
    a.add_framework("other", ["*"])
    [grant] = a.allocate(0.0)
    assert grant.resources == node(cpus=1, mem=24)
    a.recover("S1", "ghost", "*", Resources.of(cpus=3, mem=1000))  # the task ends
    assert a.free("S1") == Resources.of(cpus=3, mem=1000)
    assert a.statistics().roles == ("*",)


def test_allocate_used_books_like_a_grant() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_framework("F1", ["*"])
    a.allocate_used("S1", "F1", "*", Resources.of(cpus=1, mem=24))
    [grant] = a.allocate(0.0)
    assert grant.resources == node(cpus=3, mem=1000)


def test_update_agent_total_shrinks_and_grows() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_framework("F1", ["*"])
    a.allocate(0.0)
    a.update_agent_total("S1", node(cpus=2))  # less than allocated: nothing free
    assert a.free("S1").is_empty()
    a.update_agent_total("S1", node(cpus=6))
    [grant] = a.allocate(0.0)
    assert grant.resources == Resources.of(cpus=2)
    assert a.statistics().total["cpus"] == 6.0


def test_update_framework_roles() -> None:
    a = make()
    a.add_agent("S1", Resources.parse_text("cpus:1;mem:64;cpus(eng):1;mem(eng):64"))
    a.add_framework("F1", ["*"])
    [grant] = a.allocate(0.0)
    assert grant.role == "*"
    a.update_framework("F1", ["eng"], [])
    # the old grant stays booked under "*" until recovered
    assert a.framework_allocation("F1") == {("*", "S1"): grant.resources}
    [eng] = a.allocate(0.0)
    assert eng.role == "eng"
    a.recover("S1", "F1", "*", grant.resources)
    assert a.statistics().roles == ("eng",)


# --------------------------------------------------------------------------- weights


def test_role_weights_change_the_order() -> None:
    # Cluster 30 cpus / 3000 mem. Role a holds 10 cpus / 1000 mem (share 1/3), role b
    # 5 / 500 (1/6): b is next. With weight 3, a sorts at 1/9 < 1/6: a is next.
    a = make()
    a.add_agent("S1", node(cpus=10, mem=1000), used={("Fa", "a"): node(cpus=10, mem=1000)})
    a.add_agent("S2", node(cpus=5, mem=500), used={("Fb", "b"): node(cpus=5, mem=500)})
    a.add_agent("S3", node(cpus=15, mem=1500))
    a.add_framework("Fa", ["a"])
    a.add_framework("Fb", ["b"])
    assert a.sorted_roles() == ["b", "a"]
    a.set_weight("a", 3)
    assert a.sorted_roles() == ["a", "b"]
    assert granted(a.allocate(0.0)) == {"S3": "Fa"}
    assert a.statistics().weights == {"a": 3}
    with pytest.raises(ValueError, match="positive"):
        a.set_weight("a", -1)


def test_hierarchical_roles_share_their_parent() -> None:
    # 4 agents of 2 cpus / 256 mem; eng/web already holds one (used), so the eng subtree
    # is at .25 and sales at 0: order sales, eng/api, eng/web. Then, agent by agent:
    #   1st: sales (0) < eng (.25)                         -> sales (now .25, 1 alloc)
    #   2nd: eng .25 = sales .25, 1 alloc each, "eng" < "sales"; api (0) < web (.25) -> api
    #   3rd: sales (.25) < eng (.50)                       -> sales
    a = make()
    for i in range(3):
        a.add_agent(f"S{i}", node(cpus=2, mem=256, ports=()))
    a.add_agent(
        "S9",
        node(cpus=2, mem=256, ports=()),
        used={("web", "eng/web"): node(cpus=2, mem=256, ports=())},
    )
    a.add_framework("web", ["eng/web"])
    a.add_framework("api", ["eng/api"])
    a.add_framework("sales", ["sales"])
    assert a.sorted_roles() == ["sales", "eng/api", "eng/web"]
    assert [g.framework_id for g in a.allocate(0.0)] == ["sales", "api", "sales"]


# --------------------------------------------------------------------------- filters


def test_refuse_seconds_rules() -> None:
    assert effective_refuse_seconds(5) == 5
    assert effective_refuse_seconds(-3) == 5
    assert effective_refuse_seconds(float("nan")) == 5
    assert effective_refuse_seconds(0) is None
    assert effective_refuse_seconds(31536000) == 31536000
    assert effective_refuse_seconds(31536001) == 31536000
    assert effective_refuse_seconds(float("inf")) == 31536000


def test_decline_filters_until_expiry() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_framework("F1", ["*"])
    [grant] = a.allocate(0.0)
    a.recover("S1", "F1", "*", grant.resources, refuse_seconds=10, now=100.0)
    assert a.next_filter_expiry() == 110.0
    assert a.allocate(109.9) == []
    assert granted(a.allocate(110.0)) == {"S1": "F1"}  # expiry time is exclusive
    assert a.next_filter_expiry() is None
    assert a.statistics().filters == 0


def test_filter_blocks_only_subsets_of_what_was_refused() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_agent("S2", node(cpus=8), used={("F2", "*"): node(cpus=8)})  # F2 well above F1
    a.add_framework("F1", ["*"])
    a.add_framework("F2", ["*"])
    [g] = a.allocate(0.0, ["S1"])
    assert g.framework_id == "F1"
    a.recover("S1", "F1", "*", g.resources, refuse_seconds=60, now=0.0)
    # F1 is first in DRF order again, but its filter covers the offer: F2 gets it.
    assert a.sorted_frameworks("*") == ["F1", "F2"]
    [g] = a.allocate(1.0, ["S1"])
    assert g.framework_id == "F2"
    a.recover("S1", "F2", "*", g.resources)
    a.suppress("F2")
    assert a.allocate(2.0, ["S1"]) == []  # the same offer again: blocked
    a.allocate_used("S1", "F2", "*", Resources.of(cpus=1))
    assert a.allocate(3.0, ["S1"]) == []  # a smaller offer: blocked too
    a.recover("S1", "F2", "*", Resources.of(cpus=1))
    a.update_agent_total("S1", node(cpus=5))  # the agent gained a cpu
    [g] = a.allocate(4.0, ["S1"])
    assert (g.framework_id, g.resources) == ("F1", node(cpus=5))


def test_zero_refuse_seconds_installs_no_filter() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_framework("F1", ["*"])
    [grant] = a.allocate(0.0)
    a.recover("S1", "F1", "*", grant.resources, refuse_seconds=0, now=0.0)
    assert a.next_filter_expiry() is None
    assert len(a.allocate(0.0)) == 1


def test_revive_clears_filters_of_the_named_roles() -> None:
    a = make()
    a.add_agent("S1", Resources.parse_text("cpus(eng):1;mem(eng):64;cpus(ops):1;mem(ops):64"))
    a.add_framework("F1", ["eng", "ops"])
    for g in a.allocate(0.0):
        a.recover("S1", "F1", g.role, g.resources, refuse_seconds=1000, now=0.0)
    assert a.allocate(1.0) == []
    a.revive("F1", ["eng"])
    assert [g.role for g in a.allocate(2.0)] == ["eng"]
    a.revive("F1")
    assert [g.role for g in a.allocate(3.0)] == ["ops"]


def test_filters_are_per_role() -> None:
    # Unreserved resources refused in role "*" are also allocatable to "eng", where no
    # filter covers them: Mesos offers them again under "eng", and so do we.
    a = make()
    a.add_agent("S1", Resources.parse_text("cpus:1;mem:64;cpus(eng):1;mem(eng):64"))
    a.add_framework("F1", ["*", "eng"])
    for g in a.allocate(0.0):
        a.recover("S1", "F1", g.role, g.resources, refuse_seconds=1000, now=0.0)
    [g] = a.allocate(1.0)
    assert (g.role, str(g.resources)) == ("eng", "cpus:1;cpus(eng):1;mem:64;mem(eng):64")


def test_leaving_a_role_drops_its_filters() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_framework("F1", ["*"])
    [g] = a.allocate(0.0)
    a.recover("S1", "F1", "*", g.resources, refuse_seconds=1000, now=0.0)
    a.update_framework("F1", ["eng"], [])
    assert a.next_filter_expiry() is None
    a.update_framework("F1", ["*"], [])  # back in "*": offered again at once
    assert len(a.allocate(1.0)) == 1


def test_deactivation_and_removal_drop_filters() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_framework("F1", ["*"])
    [g] = a.allocate(0.0)
    a.recover("S1", "F1", "*", g.resources, refuse_seconds=1000, now=0.0)
    a.deactivate_framework("F1")
    assert a.next_filter_expiry() is None
    a.activate_framework("F1")
    [g] = a.allocate(1.0)
    a.recover("S1", "F1", "*", g.resources, refuse_seconds=1000, now=1.0)
    a.remove_agent("S1")
    assert a.next_filter_expiry() is None
    a.add_agent("S1", node())
    a.recover("S1", "F1", "*", node(), refuse_seconds=1000, now=1.0)  # holds nothing: no-op
    a.add_framework("F2", ["*"])
    [g] = a.allocate(2.0)
    a.recover("S1", g.framework_id, "*", g.resources, refuse_seconds=1000, now=2.0)
    a.remove_framework(g.framework_id)
    assert a.next_filter_expiry() is None


def test_statistics_snapshot() -> None:
    a = make()
    a.add_agent("S1", node())
    a.add_agent("S2", node())
    a.deactivate_agent("S2")
    a.add_framework("F1", ["*"])
    a.allocate(0.0)
    stats = a.statistics()
    assert (stats.agents, stats.active_agents, stats.frameworks, stats.active_frameworks) == (
        2,
        1,
        1,
        1,
    )
    assert stats.allocation_runs == 1
    assert stats.grants == 1
    assert stats.total == {"cpus": 8.0, "mem": 2048.0}
    assert stats.allocated == {"cpus": 4.0, "mem": 1024.0}
    assert stats.roles == ("*",)


# --------------------------------------------------------------------------- reference model


def _key(
    alloc: dict[str, int], count: int, name: str, weight: float, total: dict[str, int]
) -> tuple[float, int, str]:
    share = max((v / total[k] for k, v in alloc.items() if total.get(k)), default=0.0)
    return (share / weight, count, name)


@dataclass
class RefFramework:
    roles: frozenset[str]
    suppressed: set[str]
    active: bool


@dataclass
class RefAgent:
    total: Resources
    active: bool = True


@dataclass
class Reference:
    """Section d, stage 2, recomputed from scratch for every question: slow and obvious."""

    rng: random.Random
    agents: dict[str, RefAgent] = field(default_factory=dict)
    frameworks: dict[str, RefFramework] = field(default_factory=dict)
    held: dict[tuple[str, str, str], Resources] = field(default_factory=dict)  # (agent, fw, role)
    fw_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    role_counts: dict[str, int] = field(default_factory=dict)
    filters: list[tuple[str, str, str, Resources, float]] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)

    # -- derived views
    def tracked(self) -> set[tuple[str, str]]:
        pairs = {(fw, r) for fw, f in self.frameworks.items() for r in f.roles}
        return pairs | {(fw, r) for (_, fw, r) in self.held}

    def gc(self) -> None:
        """Counters live as long as the sorter client does (Mesos: same)."""
        pairs = self.tracked()
        roles = {r for _, r in pairs}
        self.fw_counts = {k: v for k, v in self.fw_counts.items() if k in pairs}
        self.role_counts = {k: v for k, v in self.role_counts.items() if k in roles}

    def pair_active(self, fw: str, role: str) -> bool:
        f = self.frameworks.get(fw)
        return f is not None and f.active and role in f.roles and role not in f.suppressed

    def total(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.agents.values():
            for k, v in a.total.milli_scalars().items():
                out[k] = out.get(k, 0) + v
        return out

    def free(self, agent_id: str) -> Resources:
        used = Resources.empty()
        for (agent, _, _), r in self.held.items():
            if agent == agent_id:
                used = used + r
        return self.agents[agent_id].total - used

    def alloc(self, match: Callable[[str, str], bool]) -> dict[str, int]:
        out: dict[str, int] = {}
        for (_, fw, role), r in self.held.items():
            if match(fw, role):
                for k, v in r.milli_scalars().items():
                    out[k] = out.get(k, 0) + v
        return out

    def role_order(self) -> list[str]:
        pairs = self.tracked()
        roles = {r for _, r in pairs}
        active = {r for fw, r in pairs if self.pair_active(fw, r)}
        total = self.total()

        def expand(prefix: str) -> list[str]:
            depth = prefix.count("/") + 1 if prefix else 0
            below = [r for r in roles if not prefix or r == prefix or r.startswith(prefix + "/")]
            entries: list[tuple[tuple[float, int, str], bool, str]] = []
            if prefix in roles:  # the role itself, as a virtual leaf among its children
                alloc = self.alloc(lambda fw, r: r == prefix)
                key = _key(
                    alloc,
                    self.role_counts.get(prefix, 0),
                    ".",
                    self.weights.get(prefix, 1.0),
                    total,
                )
                entries.append((key, False, prefix))
            for comp in {r.split("/")[depth] for r in below if r.count("/") >= depth}:
                path = f"{prefix}/{comp}" if prefix else comp
                members = {r for r in below if r == path or r.startswith(path + "/")}
                alloc = self.alloc(lambda fw, r, m=frozenset(members): r in m)  # type: ignore[misc]
                count = sum(self.role_counts.get(r, 0) for r in members)
                entries.append(
                    (_key(alloc, count, comp, self.weights.get(path, 1.0), total), True, path)
                )
            out: list[str] = []
            for _, subtree, item in sorted(entries):
                if subtree:
                    out.extend(expand(item))
                elif item in active:
                    out.append(item)
            return out

        return expand("")

    def framework_order(self, role: str) -> list[str]:
        total = self.total()
        fws = [fw for fw, r in self.tracked() if r == role and self.pair_active(fw, r)]
        return sorted(
            fws,
            key=lambda fw: _key(
                self.alloc(lambda f, r: (f, r) == (fw, role)),
                self.fw_counts.get((fw, role), 0),
                fw,
                1.0,
                total,
            ),
        )

    def blocked(self, fw: str, role: str, agent: str, res: Resources, now: float) -> bool:
        return any(
            (f[0], f[1], f[2]) == (fw, role, agent) and now < f[4] and f[3].contains(res)
            for f in self.filters
        )

    # -- operations
    def book(self, agent: str, fw: str, role: str, res: Resources) -> None:
        if not res:
            return
        self.held[(agent, fw, role)] = self.held.get((agent, fw, role), Resources.empty()) + res
        self.fw_counts[(fw, role)] = self.fw_counts.get((fw, role), 0) + 1
        self.role_counts[role] = self.role_counts.get(role, 0) + 1

    def release(self, agent: str, fw: str, role: str, res: Resources) -> Resources:
        key = (agent, fw, role)
        if key not in self.held:
            return Resources.empty()
        held = self.held[key]
        if held - res:
            self.held[key] = held - res
        else:
            del self.held[key]
        return held - (held - res)

    def clear_filters(self, fw: str, roles: Iterable[str] | None = None) -> None:
        wanted = None if roles is None else set(roles)
        self.filters = [
            f for f in self.filters if not (f[0] == fw and (wanted is None or f[1] in wanted))
        ]

    def allocate(self, now: float, agent_ids: list[str] | None) -> list[Allocation]:
        self.filters = [f for f in self.filters if f[4] > now]
        if not self.role_order():
            return []
        candidates = (
            list(self.agents) if agent_ids is None else sorted(set(agent_ids) & set(self.agents))
        )
        self.rng.shuffle(candidates)
        grants = []
        for agent_id in candidates:
            agent = self.agents[agent_id]
            offerable = agent.total.scalar_value("cpus") > 0 and agent.total.scalar_value("mem") > 0
            if not (agent.active and offerable and self.free(agent_id)):
                continue
            for role in self.role_order():
                cand = self.free(agent_id).allocatable_to(role)
                enough = cand.scalar_value("cpus") >= 0.01 or cand.scalar_value("mem") >= 32
                if not cand or not enough:
                    continue
                for fw in self.framework_order(role):
                    if not self.blocked(fw, role, agent_id, cand, now):
                        self.book(agent_id, fw, role, cand)
                        grants.append(Allocation(fw, role, agent_id, cand))
                        break
                if not self.free(agent_id):
                    break
        return grants


ROLES = ["*", "eng", "eng/web", "ops"]
AGENT_IDS = [f"S{i}" for i in range(5)]
FRAMEWORK_IDS = ["F1", "F2", "F3", "F4"]
REFUSALS = [None, None, 0.0, -1.0, 2.0, 10.0, 1e9]

agent_totals = st.builds(
    lambda cpus, mem, port, reserved_role, rcpus: (
        Resources.of(cpus=cpus / 2, mem=mem * 64, ports=[(port, port + 3)] if port else [])
        + (
            Resources.of(cpus=rcpus, mem=64, role=reserved_role)
            if reserved_role
            else Resources.empty()
        )
    ),
    st.integers(0, 8),
    st.integers(0, 16),
    st.sampled_from([0, 31000, 31002]),
    st.sampled_from([None, None, "eng", "ops", "eng/web"]),
    st.integers(0, 2),
)


class AllocatorMachine(RuleBasedStateMachine):
    """Random operation sequences; after each, the allocator must agree exactly with the
    reference model, and grants must respect the safety rules on their own."""

    def __init__(self) -> None:
        super().__init__()
        self.real = Allocator(rng=random.Random(42))
        self.ref = Reference(rng=random.Random(42))
        self.now = 0.0
        self.shrunk: set[str] = set()

    # -- agents
    @rule(agent_id=st.sampled_from(AGENT_IDS), total=agent_totals, ghost=st.booleans())
    def add_agent(self, agent_id: str, total: Resources, ghost: bool) -> None:
        if agent_id in self.ref.agents:
            return
        used = {("ghost", "*"): total.unreserved() - Resources.of(cpus=1, mem=64)} if ghost else {}
        self.real.add_agent(agent_id, total, used)
        self.ref.agents[agent_id] = RefAgent(total)
        for (fw, role), res in used.items():
            self.ref.book(agent_id, fw, role, res)
        self.shrunk.discard(agent_id)

    @rule(agent_id=st.sampled_from(AGENT_IDS))
    def remove_agent(self, agent_id: str) -> None:
        self.real.remove_agent(agent_id)
        self.ref.agents.pop(agent_id, None)
        self.ref.held = {k: v for k, v in self.ref.held.items() if k[0] != agent_id}
        self.ref.filters = [f for f in self.ref.filters if f[2] != agent_id]

    @rule(agent_id=st.sampled_from(AGENT_IDS), active=st.booleans())
    def set_agent_active(self, agent_id: str, active: bool) -> None:
        (self.real.activate_agent if active else self.real.deactivate_agent)(agent_id)
        if agent_id in self.ref.agents:
            self.ref.agents[agent_id].active = active

    @rule(agent_id=st.sampled_from(AGENT_IDS), total=agent_totals)
    def update_agent_total(self, agent_id: str, total: Resources) -> None:
        self.real.update_agent_total(agent_id, total)
        if agent_id in self.ref.agents:
            self.ref.agents[agent_id].total = total
            self.shrunk.add(agent_id)

    # -- frameworks
    @rule(
        fw=st.sampled_from(FRAMEWORK_IDS),
        roles=st.frozensets(st.sampled_from(ROLES), min_size=1, max_size=3),
        suppressed=st.frozensets(st.sampled_from(ROLES), max_size=2),
        active=st.booleans(),
    )
    def add_framework(
        self, fw: str, roles: frozenset[str], suppressed: frozenset[str], active: bool
    ) -> None:
        if fw in self.ref.frameworks:
            return
        self.real.add_framework(fw, roles, suppressed_roles=suppressed, active=active)
        self.ref.frameworks[fw] = RefFramework(roles, set(suppressed & roles), active)

    @rule(
        fw=st.sampled_from(FRAMEWORK_IDS),
        roles=st.frozensets(st.sampled_from(ROLES), min_size=1, max_size=3),
        suppressed=st.frozensets(st.sampled_from(ROLES), max_size=2),
    )
    def update_framework(self, fw: str, roles: frozenset[str], suppressed: frozenset[str]) -> None:
        self.real.update_framework(fw, roles, suppressed)
        f = self.ref.frameworks.get(fw)
        if f is not None:
            self.ref.clear_filters(fw, f.roles - roles)
            f.roles, f.suppressed = roles, set(suppressed & roles)

    @rule(fw=st.sampled_from(FRAMEWORK_IDS))
    def remove_framework(self, fw: str) -> None:
        self.real.remove_framework(fw)
        if self.ref.frameworks.pop(fw, None) is not None:
            self.ref.held = {k: v for k, v in self.ref.held.items() if k[1] != fw}
            self.ref.clear_filters(fw)

    @rule(fw=st.sampled_from(FRAMEWORK_IDS), active=st.booleans())
    def set_framework_active(self, fw: str, active: bool) -> None:
        if active:
            self.real.activate_framework(fw)
        else:
            self.real.deactivate_framework(fw)
        f = self.ref.frameworks.get(fw)
        if f is not None:
            f.active = active
            if not active:
                self.ref.clear_filters(fw)

    @rule(
        fw=st.sampled_from(FRAMEWORK_IDS),
        roles=st.none() | st.frozensets(st.sampled_from(ROLES), max_size=2),
        revive=st.booleans(),
    )
    def suppress_or_revive(self, fw: str, roles: frozenset[str] | None, revive: bool) -> None:
        (self.real.revive if revive else self.real.suppress)(fw, roles)
        f = self.ref.frameworks.get(fw)
        if f is None:
            return
        targets = f.roles if roles is None else f.roles & roles
        if revive:
            f.suppressed -= targets
            self.ref.clear_filters(fw, None if roles is None else targets)
        else:
            f.suppressed |= targets

    @rule(role=st.sampled_from([*ROLES, "eng"]), weight=st.sampled_from([0.5, 1.0, 2.0, 4.0]))
    def set_weight(self, role: str, weight: float) -> None:
        self.real.set_weight(role, weight)
        self.ref.weights[role] = weight

    # -- resources
    @rule(
        agent_ids=st.none() | st.lists(st.sampled_from([*AGENT_IDS, "unknown"]), max_size=4),
        advance=st.sampled_from([0.0, 0.5, 3.0, 20.0]),
    )
    def allocate(self, agent_ids: list[str] | None, advance: float) -> None:
        self.now += advance
        free_before = {a: self.real.free(a) for a in self.ref.agents}
        live_filters = [f for f in self.ref.filters if f[4] > self.now]
        grants = self.real.allocate(self.now, agent_ids)
        assert grants == self.ref.allocate(self.now, agent_ids)

        # Safety, independently of the model:
        per_agent: dict[str, list[Resources]] = {}
        for g in grants:
            fw = self.ref.frameworks[g.framework_id]  # known
            assert fw.active
            assert g.role in fw.roles
            assert g.role not in fw.suppressed
            assert self.ref.agents[g.agent_id].active
            assert not any(
                (f[0], f[1], f[2]) == (g.framework_id, g.role, g.agent_id)
                and f[3].contains(g.resources)
                for f in live_filters
            ), "a live filter was ignored"
            assert set(g.resources.roles()) <= {"*", g.role, *role_ancestors(g.role)}
            per_agent.setdefault(g.agent_id, []).append(g.resources)
        for agent_id, parts in per_agent.items():
            union = Resources.empty()
            for part in parts:
                union = union + part
            # never offered twice: the grants of a run are disjoint and came from free
            assert union.port_count() == sum(p.port_count() for p in parts)
            assert free_before[agent_id].contains(union)

    @rule(data=st.data(), refuse=st.sampled_from(REFUSALS), whole=st.booleans())
    def recover(self, data: st.DataObject, refuse: float | None, whole: bool) -> None:
        if not self.ref.held:
            return
        (agent, fw, role), held = data.draw(
            st.sampled_from(sorted(self.ref.held.items(), key=repr))
        )
        res = held if whole else held - held.without_names("cpus")  # give back the cpus only
        known = fw in self.ref.frameworks
        self.real.recover(agent, fw, role, res, refuse_seconds=refuse, now=self.now)
        released = self.ref.release(agent, fw, role, res)
        if refuse is not None and known and released:
            seconds = effective_refuse_seconds(refuse)
            if seconds is not None:
                self.ref.filters.append((fw, role, agent, released, self.now + seconds))

    @rule(
        agent_id=st.sampled_from(AGENT_IDS),
        fw=st.sampled_from(FRAMEWORK_IDS),
        role=st.sampled_from(ROLES),
    )
    def allocate_used(self, agent_id: str, fw: str, role: str) -> None:
        if agent_id not in self.ref.agents:
            return
        res = self.real.free(agent_id).allocatable_to(role).without_names("mem")
        self.real.allocate_used(agent_id, fw, role, res)
        self.ref.book(agent_id, fw, role, res)

    # -- agreement after every step
    @invariant()
    def agrees_with_reference(self) -> None:
        self.ref.gc()
        for agent_id in self.ref.agents:
            assert self.real.free(agent_id) == self.ref.free(agent_id)
        assert self.real.sorted_roles() == self.ref.role_order()
        for role in ROLES:
            assert self.real.sorted_frameworks(role) == self.ref.framework_order(role)
        expiries = [f[4] for f in self.ref.filters]
        assert self.real.next_filter_expiry() == (min(expiries) if expiries else None)
        stats = self.real.statistics()
        assert stats.agents == len(self.ref.agents)
        assert stats.active_agents == sum(1 for a in self.ref.agents.values() if a.active)
        assert stats.frameworks == len(self.ref.frameworks)
        assert stats.roles == tuple(sorted({r for _, r in self.ref.tracked()}))
        assert stats.total == {k: v / 1000 for k, v in self.ref.total().items()}

    @invariant()
    def never_more_than_the_agent_has(self) -> None:
        for agent_id, agent in self.ref.agents.items():
            if agent_id in self.shrunk:
                continue  # a shrunk agent may be over-committed until tasks end
            booked = Resources.empty()
            for (a, _, _), r in self.ref.held.items():
                if a == agent_id:
                    booked = booked + r
            assert agent.total.contains(booked)
            assert self.real.free(agent_id) + booked == agent.total


AllocatorMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
TestAllocatorMachine = AllocatorMachine.TestCase


# --------------------------------------------------------------------------- benchmark


@pytest.mark.slow
def test_allocation_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints (never asserts) the time of one allocate() over many agents."""
    lines = []
    for agents, frameworks in ((1_000, 10), (10_000, 100)):
        a = Allocator(rng=random.Random(1))
        for i in range(agents):
            a.add_agent(
                f"S{i}", Resources.of(cpus=8, mem=16384, disk=100_000, ports=[(31000, 32000)])
            )
        for j in range(frameworks):
            a.add_framework(f"F{j:04d}", ["*"])
        started = time.perf_counter()
        grants = a.allocate(0.0)
        first = time.perf_counter() - started
        for g in grants:
            a.recover(g.agent_id, g.framework_id, g.role, g.resources)
        started = time.perf_counter()
        a.allocate(1.0)
        again = time.perf_counter() - started
        lines.append(
            f"allocate() {agents} agents x {frameworks} frameworks: "
            f"{first * 1000:.0f} ms first run, {again * 1000:.0f} ms after recovering all"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
