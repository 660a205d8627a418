"""The sorter protocol: who should be offered resources next (allocation *policy*).

A sorter keeps the books for a set of clients (role names in the role sorter, framework
ids in a role's framework sorter): what each holds on each agent, which clients are
active, their weights, and the cluster total. `sort()` answers the only question the
allocation loop asks: in which order should the active clients be considered?

Contract (the allocator is the only caller, from one thread):

* `add_client` before anything else about a client; `remove_client` forgets it together
  with whatever it still holds. Adding a known client or naming an unknown one is a bug
  and raises `KeyError`/`ValueError`.
* New clients are active. Inactive clients keep their allocations (and so still weigh on
  the totals) but never appear in `sort()`.
* `allocated`/`unallocated` are called for every grant and every give-back, including
  offered-but-not-yet-accepted resources. Giving back more than is held saturates.
* `set_total` is called whenever the cluster total changes (agents added, removed or
  resized). Only scalars matter to DRF.
* `sort()` never changes the books; calling it twice with nothing changed in between
  returns equal lists and costs almost nothing.

`DRFSorter` in `drf.py` is the implementation; a quota- or priority-aware sorter can
replace it without touching the allocation loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from berth.core.resources import Resources


class Sorter(Protocol):
    def add_client(self, name: str) -> None:
        """Start tracking ``name`` (active, holding nothing)."""

    def remove_client(self, name: str) -> None:
        """Forget ``name`` and everything it holds."""

    def contains(self, name: str) -> bool: ...

    def clients(self) -> list[str]:
        """Every client, active or not, in no particular order."""

    def activate(self, name: str) -> None: ...

    def deactivate(self, name: str) -> None:
        """Skip ``name`` in `sort()`; its allocations are kept."""

    def is_active(self, name: str) -> bool: ...

    def has_active(self) -> bool:
        """Whether `sort()` would return anything at all."""

    def set_weight(self, name: str, weight: float) -> None:
        """Weight of a client (or, for hierarchical sorters, of a role path); default 1."""

    def set_total(self, total: Resources) -> None:
        """The cluster total; shares are fractions of it."""

    def allocated(self, name: str, agent_id: str, resources: Resources) -> None: ...

    def unallocated(self, name: str, agent_id: str, resources: Resources) -> None: ...

    def allocation(self, name: str) -> Mapping[str, Resources]:
        """What ``name`` holds, by agent id."""

    def share(self, name: str) -> float:
        """The client's weighted share, as used for ordering."""

    def sort(self) -> list[str]:
        """Active clients, the one to serve first at the front."""
