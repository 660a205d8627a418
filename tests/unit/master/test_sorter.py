"""The DRF sorter: a contract suite for `Sorter` implementations, worked examples, and an
incremental-vs-from-scratch oracle over random operation sequences."""

from __future__ import annotations

import doctest
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import berth.master.allocator.drf as drf_module
from berth.core.resources import Resources
from berth.master.allocator import DRFSorter, Sorter

TOTAL = Resources.of(cpus=10, mem=100)

SORTERS: dict[str, Callable[[], Sorter]] = {
    "flat": lambda: DRFSorter(),
    "hierarchical": lambda: DRFSorter(hierarchical=True),
}


@pytest.fixture(params=sorted(SORTERS))
def sorter(request: pytest.FixtureRequest) -> Sorter:
    s = SORTERS[request.param]()
    s.set_total(TOTAL)
    # Sort once so that tests exercise the incremental path (a new total re-sorts all).
    s.sort()
    return s


def test_docstring_examples() -> None:
    failures, _ = doctest.testmod(drf_module)
    assert failures == 0


# --------------------------------------------------------------------------- contract suite


def test_new_clients_are_active_and_sorted_by_name(sorter: Sorter) -> None:
    for name in ("b", "c", "a"):
        sorter.add_client(name)
    assert sorter.sort() == ["a", "b", "c"]
    assert sorter.has_active()
    assert sorted(sorter.clients()) == ["a", "b", "c"]


def test_adding_twice_is_a_bug(sorter: Sorter) -> None:
    sorter.add_client("a")
    with pytest.raises(ValueError, match="already exists"):
        sorter.add_client("a")


def test_unknown_client_is_a_bug(sorter: Sorter) -> None:
    with pytest.raises(KeyError):
        sorter.allocated("nobody", "S1", TOTAL)


def test_lowest_dominant_share_first(sorter: Sorter) -> None:
    for name in ("a", "b"):
        sorter.add_client(name)
    assert sorter.sort() == ["a", "b"]
    sorter.allocated("a", "S1", Resources.of(cpus=1, mem=5))  # shares: a = max(.10, .05) = .10
    sorter.allocated("b", "S1", Resources.of(cpus=0.5, mem=6))  # shares: b = max(.05, .06) = .06
    assert sorter.sort() == ["b", "a"]
    assert sorter.share("a") == pytest.approx(0.10)
    assert sorter.share("b") == pytest.approx(0.06)


def test_ties_go_to_fewer_allocations_then_name(sorter: Sorter) -> None:
    for name in ("a", "b", "c"):
        sorter.add_client(name)
    assert sorter.sort() == ["a", "b", "c"]
    sorter.allocated("a", "S1", Resources.of(cpus=1))
    sorter.allocated("b", "S1", Resources.of(cpus=0.5))
    sorter.allocated("b", "S2", Resources.of(cpus=0.5))
    sorter.allocated("c", "S1", Resources.of(cpus=1))
    # shares all .10; allocations: a=1, b=2, c=1 -> a, c (by name), then b
    assert sorter.sort() == ["a", "c", "b"]


def test_inactive_clients_are_skipped_but_keep_allocations(sorter: Sorter) -> None:
    for name in ("a", "b"):
        sorter.add_client(name)
    sorter.allocated("a", "S1", Resources.of(cpus=2))
    sorter.deactivate("a")
    assert sorter.sort() == ["b"]
    assert not sorter.is_active("a")
    assert sorter.allocation("a") == {"S1": Resources.of(cpus=2)}
    sorter.activate("a")
    assert sorter.sort() == ["b", "a"]
    sorter.deactivate("a")
    sorter.deactivate("b")
    assert not sorter.has_active()
    assert sorter.sort() == []


def test_unallocated_saturates_and_forgets_empty_agents(sorter: Sorter) -> None:
    sorter.add_client("a")
    sorter.allocated("a", "S1", Resources.of(cpus=2, ports=[(1, 10)]))
    sorter.unallocated("a", "S1", Resources.of(cpus=5, ports=[(1, 4)]))
    assert sorter.allocation("a") == {"S1": Resources.of(ports=[(5, 10)])}
    assert sorter.share("a") == 0.0
    sorter.unallocated("a", "S1", Resources.of(ports=[(5, 10)]))
    assert sorter.allocation("a") == {}
    sorter.unallocated("a", "S9", Resources.of(cpus=1))  # holds nothing there: no-op


def test_weights_divide_shares(sorter: Sorter) -> None:
    for name in ("a", "b"):
        sorter.add_client(name)
    sorter.allocated("a", "S1", Resources.of(cpus=2))  # .20
    sorter.allocated("b", "S1", Resources.of(cpus=1.5))  # .15
    assert sorter.sort() == ["b", "a"]
    sorter.set_weight("a", 2)  # a: .20 / 2 = .10 < .15
    assert sorter.sort() == ["a", "b"]
    with pytest.raises(ValueError, match="positive"):
        sorter.set_weight("a", 0)


def test_kinds_the_cluster_lacks_do_not_count(sorter: Sorter) -> None:
    for name in ("a", "b"):
        sorter.add_client(name)
    sorter.allocated("a", "S1", Resources.of(cpus=1, gpus=1))  # gpus total 0: skipped -> .10
    sorter.allocated("b", "S1", Resources.of(cpus=2))  # .20
    assert sorter.sort() == ["a", "b"]


def test_total_changes_reorder(sorter: Sorter) -> None:
    for name in ("a", "b"):
        sorter.add_client(name)
    sorter.allocated("a", "S1", Resources.of(cpus=1))  # cpus 1/10 = .10
    sorter.allocated("b", "S1", Resources.of(mem=20))  # mem 20/100 = .20
    assert sorter.sort() == ["a", "b"]
    sorter.set_total(Resources.of(cpus=2, mem=100))  # a: 1/2 = .50
    assert sorter.sort() == ["b", "a"]


def test_remove_client_forgets_everything(sorter: Sorter) -> None:
    for name in ("a", "b"):
        sorter.add_client(name)
    sorter.allocated("a", "S1", Resources.of(cpus=5))
    sorter.remove_client("a")
    assert not sorter.contains("a")
    assert sorter.sort() == ["b"]
    sorter.add_client("a")  # comes back empty-handed with a fresh counter
    assert sorter.allocation("a") == {}
    assert sorter.sort() == ["a", "b"]


def test_sort_result_is_a_copy(sorter: Sorter) -> None:
    sorter.add_client("a")
    sorter.sort().append("zzz")
    assert sorter.sort() == ["a"]


# --------------------------------------------------------------------------- DRF specifics


def test_excluded_kinds_are_ignored() -> None:
    s = DRFSorter(excluded=["gpus"])
    s.set_total(Resources.of(cpus=10, gpus=2))
    for name in ("a", "b"):
        s.add_client(name)
    s.allocated("a", "S1", Resources.of(cpus=1, gpus=2))  # gpus excluded: .10 (not 1.0)
    s.allocated("b", "S1", Resources.of(cpus=2))  # .20
    assert s.sort() == ["a", "b"]


def test_hierarchical_roles_sort_subtrees_depth_first() -> None:
    s = DRFSorter(hierarchical=True)
    s.set_total(Resources.of(cpus=10))
    for role in ("eng/web", "eng/ops", "sales", "eng"):
        s.add_client(role)
    assert s.sort() == ["eng", "eng/ops", "eng/web", "sales"]
    s.allocated("eng/web", "S1", Resources.of(cpus=2))  # .20
    s.allocated("eng/ops", "S1", Resources.of(cpus=1))  # .10
    s.allocated("eng", "S1", Resources.of(cpus=0.5))  # .05 (virtual leaf eng/.)
    s.allocated("sales", "S1", Resources.of(cpus=3.2))  # .32
    # Subtrees: eng = 2 + 1 + .5 = 3.5 cpus (.35) > sales (.32): sales first, then eng's
    # children: eng itself (.05), eng/ops (.10), eng/web (.20).
    assert s.sort() == ["sales", "eng", "eng/ops", "eng/web"]
    s.set_weight("eng", 2)  # eng subtree .35 / 2 = .175 < .32
    assert s.sort() == ["eng", "eng/ops", "eng/web", "sales"]
    s.set_weight("eng", 1)
    assert s.sort()[0] == "sales"
    s.remove_client("eng")  # the subtree keeps its other leaves: 3 cpus, .30 < .32
    assert s.sort() == ["eng/ops", "eng/web", "sales"]
    s.remove_client("eng/ops")
    s.remove_client("eng/web")
    assert s.sort() == ["sales"]
    assert s.clients() == ["sales"]


def test_sort_is_lazy() -> None:
    """sort() with nothing changed recomputes nothing; one allocation recomputes one key."""

    class CountingSorter(DRFSorter):
        computed = 0

        def _key(self, node: drf_module._Node) -> tuple[float, int, str]:
            CountingSorter.computed += 1
            return super()._key(node)

    s = CountingSorter()
    s.set_total(TOTAL)
    for i in range(100):
        s.add_client(f"f{i:03d}")
    first = s.sort()
    CountingSorter.computed = 0
    assert s.sort() == first
    assert CountingSorter.computed == 0
    s.allocated("f000", "S1", Resources.of(cpus=1))
    assert s.sort()[-1] == "f000"
    assert CountingSorter.computed == 1


# --------------------------------------------------------------------------- oracle property

CLIENTS = ["a", "b", "eng", "eng/web", "eng/ops", "x/y/z"]
AGENTS = ["S1", "S2", "S3"]

amounts = st.builds(
    lambda c, m, g, p: Resources.of(
        cpus=c / 10, mem=m * 16, gpus=g, ports=[(p, p + 1)] if p else []
    ),
    st.integers(0, 20),
    st.integers(0, 20),
    st.integers(0, 1),
    st.integers(0, 5),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from(CLIENTS)),
        st.tuples(st.just("remove"), st.sampled_from(CLIENTS)),
        st.tuples(st.just("allocated"), st.sampled_from(CLIENTS), st.sampled_from(AGENTS), amounts),
        st.tuples(
            st.just("unallocated"), st.sampled_from(CLIENTS), st.sampled_from(AGENTS), amounts
        ),
        st.tuples(st.just("deactivate"), st.sampled_from(CLIENTS)),
        st.tuples(st.just("activate"), st.sampled_from(CLIENTS)),
        st.tuples(
            st.just("weight"),
            st.sampled_from([*CLIENTS, "eng", "x", "x/y"]),
            st.sampled_from([0.5, 1, 3]),
        ),
        st.tuples(st.just("total"), st.integers(1, 40), st.integers(0, 400), st.integers(0, 2)),
    ),
    min_size=10,
    max_size=80,
)


class Oracle:
    """DRF computed from scratch from a plain ledger, the obvious slow way."""

    def __init__(self, hierarchical: bool) -> None:
        self.hierarchical = hierarchical
        self.held: dict[str, dict[str, Resources]] = {}
        self.count: dict[str, int] = {}
        self.active: dict[str, bool] = {}
        self.weights: dict[str, float] = {}
        self.total: dict[str, int] = {}

    def alloc_of(self, clients: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in clients:
            for r in self.held[c].values():
                for k, v in r.milli_scalars().items():
                    out[k] = out.get(k, 0) + v
        return out

    def key(self, clients: list[str], path: str, name: str) -> tuple[float, int, str]:
        alloc = self.alloc_of(clients)
        share = max((v / self.total[k] for k, v in alloc.items() if self.total.get(k)), default=0.0)
        return (share / self.weights.get(path, 1.0), sum(self.count[c] for c in clients), name)

    def sort(self) -> list[str]:
        if not self.hierarchical:
            ordered = sorted(self.held, key=lambda c: self.key([c], c, c))
            return [c for c in ordered if self.active[c]]
        return self._expand("")

    def _expand(self, prefix: str) -> list[str]:
        """Active clients under ``prefix``: siblings by subtree key, depth first."""
        depth = prefix.count("/") + 1 if prefix else 0
        below = [c for c in self.held if not prefix or c == prefix or c.startswith(prefix + "/")]
        # (key, is_subtree, client name or subtree path)
        entries: list[tuple[tuple[float, int, str], bool, str]] = []
        if prefix in self.held:
            entries.append((self.key([prefix], prefix, "."), False, prefix))  # virtual leaf
        for component in {c.split("/")[depth] for c in below if c.count("/") >= depth}:
            path = f"{prefix}/{component}" if prefix else component
            members = [c for c in below if c == path or c.startswith(path + "/")]
            entries.append((self.key(members, path, component), True, path))
        out: list[str] = []
        for _, subtree, item in sorted(entries):
            if subtree:
                out.extend(self._expand(item))
            elif self.active[item]:
                out.append(item)
        return out


@pytest.mark.parametrize("hierarchical", [False, True])
@settings(max_examples=300)
@given(ops=operations)
def test_incremental_sort_matches_from_scratch_oracle(
    hierarchical: bool, ops: list[tuple[object, ...]]
) -> None:
    """After every operation, sort() equals DRF computed from scratch."""
    s = DRFSorter(hierarchical=hierarchical)
    o = Oracle(hierarchical)
    s.set_total(TOTAL)
    o.total = TOTAL.milli_scalars()
    for name in CLIENTS:  # start populated, so removals and re-adds happen early
        s.add_client(name)
        o.held[name], o.count[name], o.active[name] = {}, 0, True
    for op in ops:
        kind = op[0]
        if kind == "add" and op[1] not in o.held:
            name = str(op[1])
            s.add_client(name)
            o.held[name], o.count[name], o.active[name] = {}, 0, True
        elif kind == "remove" and op[1] in o.held:
            name = str(op[1])
            s.remove_client(name)
            del o.held[name], o.count[name], o.active[name]
        elif kind in ("allocated", "unallocated") and op[1] in o.held:
            name, agent, res = str(op[1]), str(op[2]), op[3]
            assert isinstance(res, Resources)
            held = o.held[name].get(agent, Resources.empty())
            if kind == "allocated":
                s.allocated(name, agent, res)
                if res:
                    o.held[name][agent] = held + res
                    o.count[name] += 1
            else:
                s.unallocated(name, agent, res)
                if held - res:
                    o.held[name][agent] = held - res
                else:
                    o.held[name].pop(agent, None)
        elif kind in ("activate", "deactivate") and op[1] in o.held:
            getattr(s, kind)(op[1])
            o.active[str(op[1])] = kind == "activate"
        elif kind == "weight":
            s.set_weight(str(op[1]), float(op[2]))  # type: ignore[arg-type]
            o.weights[str(op[1])] = float(op[2])  # type: ignore[arg-type]
        elif kind == "total":
            total = Resources.of(cpus=op[1], mem=op[2], gpus=op[3])  # type: ignore[arg-type]
            s.set_total(total)
            o.total = total.milli_scalars()
        assert s.sort() == o.sort(), op
    for name in o.held:
        assert dict(s.allocation(name)) == o.held[name]


@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(1, 30)), max_size=12),
    st.sampled_from(["a", "b", "c", "d"]),
    st.sampled_from([1.5, 2, 10]),
)
def test_raising_a_weight_never_moves_a_client_back(
    grants: list[tuple[str, int]], client: str, weight: float
) -> None:
    s = DRFSorter()
    s.set_total(Resources.of(cpus=100))
    for name in ("a", "b", "c", "d"):
        s.add_client(name)
    for name, cpus in grants:
        s.allocated(name, "S1", Resources.of(cpus=cpus))
    before = s.sort().index(client)
    s.set_weight(client, weight)
    assert s.sort().index(client) <= before
