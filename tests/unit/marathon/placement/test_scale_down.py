"""Scale-down victims (reference 3.3): explicit, then GROUP_BY re-balancing, then condition
and killSelection order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from berth.core.attributes import Attribute
from berth.marathon.placement import KillCandidate, KillSelection, scale_down_victims
from berth.marathon.placement.scale_down import kill_order_key


def inst(
    instance_id: str, condition: str = "Running", since: float | None = 0, rack: str | None = None
) -> KillCandidate:
    attributes = (Attribute("rack", "TEXT", rack),) if rack else ()
    return KillCandidate(
        instance_id, condition, since, hostname=f"h-{instance_id}", attributes=attributes
    )


MIXED = [
    inst("run-old", "Running", 10),
    inst("run-young", "Running", 50),
    inst("starting", "Starting", 60),
    inst("staging", "TASK_STAGING", 70),
    inst("lost", "Unreachable", 5),
    inst("killing", "Killing", 1),
    inst("created", "Created", None),
]


def test_condition_order_then_youngest_first() -> None:
    # Unreachable -> Staging -> Starting -> Running (young before old) -> anything else.
    assert scale_down_victims(MIXED, 7, "YOUNGEST_FIRST") == [
        "lost",
        "staging",
        "starting",
        "run-young",
        "run-old",
        "created",  # "other" conditions come last; never staged counts as the youngest
        "killing",
    ]


def test_oldest_first_only_changes_ties_within_a_condition() -> None:
    assert scale_down_victims(MIXED, 5, "OLDEST_FIRST") == [
        "lost",
        "staging",
        "starting",
        "run-old",
        "run-young",
    ]


def test_explicit_victims_come_first_and_count() -> None:
    victims = scale_down_victims(MIXED, 2, "YOUNGEST_FIRST", explicit={"run-old", "ghost"})
    assert victims == ["run-old", "lost"]
    # Explicit kills beyond the count still happen ("ghost" is not an instance: ignored).
    assert scale_down_victims(MIXED, 0, explicit=["run-old", "starting"]) == ["run-old", "starting"]


def test_group_by_rebalances_before_the_usual_order() -> None:
    # r1 has 3 (a, b, c), r2 has 1 (d), r3 has 2 (e, f). Kill 3:
    #   spread 3-1=2 -> kill from r1: its first in kill order is "c" (youngest) -> r1 2, r3 2, r2 1
    #   spread 1 -> kill from r1 or r3 (both 2): the earliest in kill order among a, b, e, f
    #     is "f" (youngest, 60) -> r1 2, r2 1, r3 1
    #   spread 1 -> r1 only: "b" -> 1/1/1, even; no more re-balancing needed.
    fleet = [
        inst("a", since=10, rack="r1"),
        inst("b", since=20, rack="r1"),
        inst("c", since=70, rack="r1"),
        inst("d", since=80, rack="r2"),
        inst("e", since=30, rack="r3"),
        inst("f", since=60, rack="r3"),
    ]
    group_by = [("rack", "GROUP_BY", None)]
    assert scale_down_victims(fleet, 3, "YOUNGEST_FIRST", group_by) == ["c", "f", "b"]
    # Once even, the rest follow the usual order: the 4th is the youngest left, "d".
    assert scale_down_victims(fleet, 4, "YOUNGEST_FIRST", group_by) == ["c", "f", "b", "d"]
    # Without the constraint the youngest simply go first.
    assert scale_down_victims(fleet, 3, "YOUNGEST_FIRST") == ["d", "c", "f"]


def test_rebalancing_prefers_unreachable_within_the_crowded_value() -> None:
    fleet = [
        inst("a", since=10, rack="r1"),
        inst("b", "Unreachable", 5, rack="r1"),
        inst("c", since=90, rack="r1"),
        inst("d", since=80, rack="r2"),
    ]
    assert scale_down_victims(fleet, 1, "YOUNGEST_FIRST", [("rack", "GROUP_BY", None)]) == ["b"]


def test_missing_attribute_is_its_own_group() -> None:
    fleet = [inst("a", rack="r1"), inst("b", since=1), inst("c", since=2), inst("d", since=3)]
    # Groups: r1 {a}, none {b, c, d}: re-balancing kills from the attribute-less group.
    assert scale_down_victims(fleet, 2, "YOUNGEST_FIRST", [("rack", "GROUP_BY", None)]) == [
        "d",
        "c",
    ]


def test_killing_everything_returns_everything() -> None:
    assert sorted(scale_down_victims(MIXED, 10)) == sorted(i.instance_id for i in MIXED)


_CONDITIONS = st.sampled_from(["Running", "Staging", "Starting", "Unreachable", "Killing"])
_FLEET = st.lists(
    st.tuples(
        _CONDITIONS,
        st.one_of(st.none(), st.integers(0, 100)),
        st.sampled_from(["r1", "r2", "r3", None]),
    ),
    max_size=12,
).map(lambda rows: [inst(f"i{n}", c, t, r) for n, (c, t, r) in enumerate(rows)])


@given(
    _FLEET,
    st.integers(0, 14),
    st.sampled_from(["YOUNGEST_FIRST", "OLDEST_FIRST"]),
    st.booleans(),
    st.sets(st.sampled_from(["i0", "i3", "zz"])),
)
def test_victims_are_distinct_real_and_as_many_as_asked(
    fleet: list[KillCandidate],
    count: int,
    selection: KillSelection,
    group_by: bool,
    explicit: set[str],
) -> None:
    constraints = [("rack", "GROUP_BY", None)] if group_by else []
    victims = scale_down_victims(fleet, count, selection, constraints, explicit=explicit)
    ids = [i.instance_id for i in fleet]
    named = [i for i in ids if i in explicit]
    assert len(victims) == len(set(victims))
    assert set(victims) <= set(ids)
    assert len(victims) == min(len(ids), max(count, len(named)))
    assert victims[: len(named)] == named
    if not group_by:
        # Without GROUP_BY the choice after the explicit ones is a prefix of the kill order.
        rest = sorted(
            (i for i in fleet if i.instance_id not in explicit),
            key=lambda c: kill_order_key(c, selection),
        )
        assert victims[len(named) :] == [c.instance_id for c in rest][: len(victims) - len(named)]
