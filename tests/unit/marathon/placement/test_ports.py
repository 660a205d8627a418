"""Host ports: feasibility messages, fixed vs dynamic assignment, roles, determinism."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from berth.core.resources import Resources
from berth.marathon.placement import assign_ports, port_pool, ports_problem


def test_pool_keeps_only_accepted_roles_in_preference_order() -> None:
    offered = Resources.parse_text(
        "ports:[31000-31004];ports(eng):[8000-8001];ports(ops):[9000-9000]"
    )
    pool = port_pool(offered, ("eng", "*"))
    assert pool.by_role == (("eng", ((8000, 8001),)), ("*", ((31000, 31004),)))
    assert pool.total() == 7
    assert pool.role_of(8001) == "eng"
    assert pool.role_of(9000) is None


def test_problems() -> None:
    pool = port_pool(Resources.parse_text("ports:[80-80, 31000-31001]"), ("*",))
    assert ports_problem((), pool, require_ports=False) is None
    assert ports_problem((80, 0, 0), pool, require_ports=False) is None
    # Three are offered, the fixed 80 takes one, three dynamic ones would need four.
    assert (
        ports_problem((80, 0, 0, 0), pool, require_ports=False) == "4 host ports needed, 3 offered"
    )
    assert ports_problem((8080,), pool, require_ports=False) == "no free host port 8080"
    assert (
        ports_problem((8080,), pool, require_ports=True) == "no free host port 8080 (requirePorts)"
    )
    empty = port_pool(Resources.of(cpus=1), ("*",))
    assert ports_problem((0,), empty, require_ports=False) == "1 host port needed, 0 offered"


def test_fixed_ports_are_kept_and_dynamic_ones_drawn_from_the_rest() -> None:
    pool = port_pool(
        Resources.parse_text("ports:[31000-31002];ports(eng):[8080-8080]"), ("eng", "*")
    )
    chosen, taken = assign_ports((0, 8080, 0), pool, random.Random(3))
    assert chosen[1] == 8080
    assert {chosen[0], chosen[2]} <= {31000, 31001, 31002}
    assert chosen[0] < chosen[2]  # dynamic ports are handed out ascending
    # The launch resource says which role each port came from.
    assert taken.reserved("eng") == Resources.ranges("ports", [(8080, 8080)], "eng")
    assert taken.unreserved().port_count() == 2


def test_a_fixed_port_listed_twice_is_taken_once() -> None:
    pool = port_pool(Resources.parse_text("ports:[80-80]"), ("*",))
    assert ports_problem((80, 80), pool, require_ports=False) is None
    chosen, taken = assign_ports((80, 80), pool, random.Random(0))
    assert chosen == (80, 80)
    assert taken.port_count() == 1


@given(
    st.lists(st.tuples(st.integers(1, 200), st.integers(0, 20)), min_size=1, max_size=4),
    st.lists(st.sampled_from([0, 0, 0, 5, 50, 150]), max_size=6),
    st.integers(0, 2**32),
)
def test_assignment_is_distinct_inside_the_pool_and_seeded(
    ranges: list[tuple[int, int]], wanted: list[int], seed: int
) -> None:
    offered = Resources.ranges("ports", [(b, b + n) for b, n in ranges])
    pool = port_pool(offered, ("*",))
    if ports_problem(wanted, pool, require_ports=False) is not None:
        return
    chosen, taken = assign_ports(wanted, pool, random.Random(seed))
    assert len(chosen) == len(wanted)
    assert all(w in (0, c) for w, c in zip(wanted, chosen, strict=True))
    dynamic = [c for w, c in zip(wanted, chosen, strict=True) if not w]
    assert len(set(dynamic)) == len(dynamic)
    assert not set(dynamic) & {w for w in wanted if w}
    assert offered.contains(taken)
    assert taken.port_count() == len(set(chosen))
    assert assign_ports(wanted, pool, random.Random(seed)) == (chosen, taken)
