"""Dominant Resource Fairness: the default `Sorter`.

A client's share is its largest fraction of any scalar kind of the cluster, divided by its
weight: with a cluster of 10 cpus and 100 GB, a client holding 1 cpu and 6 GB has
shares cpus=.10, mem=.06, so its dominant share is .10; with weight 2 it sorts as .05.
Clients are served in ascending share; ties go to the client that was allocated to fewer
times so far (a counter bumped on every `allocated`), then to the smaller name.

Hierarchical mode (the role sorter) splits names on ``/`` into a tree, as Mesos does:
siblings are ordered by the share of their whole subtree, and the tree is expanded depth
first. A role that is both a client and a parent (``eng`` and ``eng/web``) is represented
by a virtual leaf ``eng/.`` that competes with ``eng``'s other children. Weights belong to
paths; the virtual leaf uses its role's weight.

Why it is fast enough: every internal node keeps its children in a sorted list with their
sort keys alongside. Changing one client's allocation only marks it (and its ancestors)
dirty; `sort()` then moves just the dirty nodes to their new place with two bisections
instead of recomputing every share. Only a change of the cluster total or of a weight,
which moves every share, triggers a full re-sort. The alternative, a heap, would make
"list everyone in order" (what `sort()` returns) cost a full sort every time.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping

from berth.core.resources import Resources

_EMPTY = Resources.empty()
_Key = tuple[float, int, str]  # (weighted share, allocation count, name)


class _Node:
    """A tree node: the root, an internal role-path node, or a leaf (a client)."""

    __slots__ = (
        "active",
        "alloc",
        "by_agent",
        "children",
        "count",
        "is_leaf",
        "key",
        "keys",
        "name",
        "order",
        "parent",
        "path",
    )

    def __init__(self, name: str, path: str, parent: _Node | None, *, is_leaf: bool) -> None:
        self.name = name  # component name among siblings ("." for a virtual leaf)
        self.path = path  # weight lookup key; for a leaf, the client name
        self.parent = parent
        self.is_leaf = is_leaf
        self.active = True
        self.alloc: dict[str, int] = {}  # scalar milli-units held by the whole subtree
        self.count = 0  # allocations so far, summed over the subtree
        self.key: _Key | None = None  # position key in parent.order; None = not placed
        self.children: dict[str, _Node] = {}
        self.order: list[_Node] = []  # children sorted by key
        self.keys: list[_Key] = []  # parallel to order, for bisection
        self.by_agent: dict[str, Resources] = {}  # leaves only


class DRFSorter:
    """DRF ordering over clients; see the module doc. Implements `Sorter`.

    >>> s = DRFSorter()
    >>> s.set_total(Resources.of(cpus=10, mem=100))
    >>> for c in ("a", "b"):
    ...     s.add_client(c)
    >>> s.allocated("a", "agent1", Resources.of(cpus=1, mem=5))   # shares: a=.10
    >>> s.allocated("b", "agent1", Resources.of(cpus=0.5, mem=6))  # shares: b=.06
    >>> s.sort()
    ['b', 'a']
    """

    def __init__(self, *, hierarchical: bool = False, excluded: Iterable[str] = ()) -> None:
        self._hierarchical = hierarchical
        self._excluded = frozenset(excluded)
        self._root = _Node("", "", None, is_leaf=False)
        self._leaves: dict[str, _Node] = {}
        self._weights: dict[str, float] = {}
        self._total: dict[str, int] = {}
        self._active = 0
        # parent -> children whose key may have changed since the last sort()
        self._dirty: dict[_Node, set[_Node]] = {}
        # Every key is stale (total or a weight changed): re-sort everything.
        self._resort_all = False
        self._sorted: list[str] | None = None  # cached result of sort()

    # ------------------------------------------------------------------ clients

    def add_client(self, name: str) -> None:
        if name in self._leaves:
            raise ValueError(f"sorter client {name!r} already exists")
        parent = self._root
        if self._hierarchical:
            parts = name.split("/")
            for i, part in enumerate(parts):
                child = parent.children.get(part)
                if child is None:
                    child = _Node(part, "/".join(parts[: i + 1]), parent, is_leaf=False)
                    self._attach(child)
                parent = child
            leaf = _Node(".", name, parent, is_leaf=True)
        else:
            leaf = _Node(name, name, parent, is_leaf=True)
        self._attach(leaf)
        self._leaves[name] = leaf
        self._active += 1
        self._sorted = None

    def remove_client(self, name: str) -> None:
        leaf = self._leaves.pop(name)
        if leaf.active:
            self._active -= 1
        self._apply(leaf.parent, leaf.alloc, -leaf.count, sign=-1)
        node: _Node | None = leaf
        # Detach the leaf, then every ancestor left without children.
        while node is not None and node is not self._root and not node.children:
            parent = node.parent
            self._detach(node)
            node = parent
        self._sorted = None

    def contains(self, name: str) -> bool:
        return name in self._leaves

    def clients(self) -> list[str]:
        return list(self._leaves)

    def activate(self, name: str) -> None:
        leaf = self._leaves[name]
        if not leaf.active:
            leaf.active = True
            self._active += 1
            self._sorted = None

    def deactivate(self, name: str) -> None:
        leaf = self._leaves[name]
        if leaf.active:
            leaf.active = False
            self._active -= 1
            self._sorted = None

    def is_active(self, name: str) -> bool:
        return self._leaves[name].active

    def has_active(self) -> bool:
        return self._active > 0

    def set_weight(self, name: str, weight: float) -> None:
        if not (weight > 0 and math.isfinite(weight)):
            raise ValueError(f"weight of {name!r} must be a positive number, got {weight!r}")
        if self._weights.get(name, 1.0) != weight:
            self._weights[name] = weight
            self._resort_all = True
            self._sorted = None

    def weight(self, name: str) -> float:
        return self._weights.get(name, 1.0)

    # ------------------------------------------------------------------ books

    def set_total(self, total: Resources) -> None:
        milli = {k: v for k, v in total.milli_scalars().items() if k not in self._excluded}
        if milli != self._total:
            self._total = milli
            self._resort_all = True
            self._sorted = None

    def allocated(self, name: str, agent_id: str, resources: Resources) -> None:
        leaf = self._leaves[name]
        if not resources:
            return
        leaf.by_agent[agent_id] = leaf.by_agent.get(agent_id, _EMPTY) + resources
        delta = {k: v for k, v in resources.milli_scalars().items() if k not in self._excluded}
        self._apply(leaf, delta, 1, sign=1)

    def unallocated(self, name: str, agent_id: str, resources: Resources) -> None:
        leaf = self._leaves[name]
        held = leaf.by_agent.get(agent_id)
        if held is None or not resources:
            return
        left = held - resources
        if left:
            leaf.by_agent[agent_id] = left
        else:
            del leaf.by_agent[agent_id]
        # Saturation: only what was actually held comes off the shares.
        before, after = held.milli_scalars(), left.milli_scalars()
        delta = {
            k: v - after.get(k, 0)
            for k, v in before.items()
            if k not in self._excluded and v != after.get(k, 0)
        }
        self._apply(leaf, delta, 0, sign=-1)

    def allocation(self, name: str) -> Mapping[str, Resources]:
        return dict(self._leaves[name].by_agent)

    def allocation_on(self, name: str, agent_id: str) -> Resources:
        return self._leaves[name].by_agent.get(agent_id, _EMPTY)

    def share(self, name: str) -> float:
        return self._key(self._leaves[name])[0]

    # ------------------------------------------------------------------ ordering

    def sort(self) -> list[str]:
        if self._sorted is None:
            if self._resort_all:
                self._resort(self._root)
                self._resort_all = False
            else:
                for parent, children in self._dirty.items():
                    for child in children:
                        self._reposition(parent, child)
            self._dirty.clear()
            if self._hierarchical:
                out: list[str] = []
                self._emit(self._root, out)
                self._sorted = out
            else:
                self._sorted = [n.path for n in self._root.order if n.active]
        return list(self._sorted)

    def _emit(self, node: _Node, out: list[str]) -> None:
        for child in node.order:
            if child.is_leaf:
                if child.active:
                    out.append(child.path)
            else:
                self._emit(child, out)

    def _key(self, node: _Node) -> _Key:
        share = 0.0
        total = self._total
        for kind, amount in node.alloc.items():
            t = total.get(kind)
            if t:  # kinds the cluster has none of do not count
                s = amount / t
                if s > share:
                    share = s
        return (share / self._weights.get(node.path, 1.0), node.count, node.name)

    def _resort(self, node: _Node) -> None:
        for child in node.children.values():
            child.key = self._key(child)
            if not child.is_leaf:
                self._resort(child)
        node.order = sorted(node.children.values(), key=_node_key)
        node.keys = [_node_key(c) for c in node.order]

    def _reposition(self, parent: _Node, child: _Node) -> None:
        if child.key is not None:
            i = bisect_left(parent.keys, child.key)
            del parent.keys[i], parent.order[i]
        child.key = self._key(child)
        i = bisect_right(parent.keys, child.key)
        parent.keys.insert(i, child.key)
        parent.order.insert(i, child)

    # ------------------------------------------------------------------ tree upkeep

    def _apply(self, node: _Node | None, delta: Mapping[str, int], count: int, sign: int) -> None:
        """Add ``sign * delta`` and ``count`` to ``node`` and its ancestors, marking them."""
        while node is not None and node is not self._root:
            alloc = node.alloc
            for kind, amount in delta.items():
                value = alloc.get(kind, 0) + sign * amount
                if value:
                    alloc[kind] = value
                else:
                    del alloc[kind]
            node.count += count
            self._mark(node)
            node = node.parent
        self._sorted = None

    def _mark(self, node: _Node) -> None:
        parent = node.parent
        assert parent is not None
        dirty = self._dirty.get(parent)
        if dirty is None:
            self._dirty[parent] = {node}
        else:
            dirty.add(node)

    def _attach(self, node: _Node) -> None:
        assert node.parent is not None
        node.parent.children[node.name] = node
        self._mark(node)

    def _detach(self, node: _Node) -> None:
        parent = node.parent
        assert parent is not None
        del parent.children[node.name]
        if node.key is not None:
            i = bisect_left(parent.keys, node.key)
            del parent.keys[i], parent.order[i]
        dirty = self._dirty.get(parent)
        if dirty is not None:
            dirty.discard(node)
        self._dirty.pop(node, None)


def _node_key(node: _Node) -> _Key:
    assert node.key is not None
    return node.key
