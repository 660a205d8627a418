"""Refusal filters: what a framework declined, so that it is not offered again too soon.

A filter is keyed by (framework, role, agent), remembers the refused resources and expires
at a point in (monotonic) time. It blocks a candidate offer only when the candidate is
contained in what was refused: if the agent has gained resources since (a task finished),
the framework sees the bigger offer at once. That is Mesos's rule, and the reason a
decline does not simply mean "nothing from this agent for N seconds".

`refuse_seconds` rules (Mesos's `Filters.refuse_seconds`): default 5; negative or NaN
-> 5; 0 -> no filter at all; more than a year -> a year.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass

from berth.core.resources import Resources

DEFAULT_REFUSE_SECONDS = 5.0
MAX_REFUSE_SECONDS = 365 * 24 * 3600.0  # 31536000

_FilterKey = tuple[str, str, str]  # (framework_id, role, agent_id)


def effective_refuse_seconds(refuse_seconds: float) -> float | None:
    """How long a decline with ``refuse_seconds`` filters; None means no filter.

    >>> [effective_refuse_seconds(s) for s in (-1, 0, 2.5, 1e12)]
    [5.0, None, 2.5, 31536000.0]
    """
    if math.isnan(refuse_seconds) or refuse_seconds < 0:
        return DEFAULT_REFUSE_SECONDS
    if refuse_seconds == 0:
        return None
    return min(float(refuse_seconds), MAX_REFUSE_SECONDS)


@dataclass(frozen=True, slots=True)
class RefusalFilter:
    framework_id: str
    role: str
    agent_id: str
    resources: Resources
    expires_at: float


class Filters:
    """The live refusal filters, indexed for the allocation hot loop and for revive."""

    def __init__(self) -> None:
        self._by_key: dict[_FilterKey, dict[int, RefusalFilter]] = {}
        self._keys_by_framework: dict[str, set[_FilterKey]] = {}
        self._keys_by_agent: dict[str, set[_FilterKey]] = {}
        # (expires_at, id); entries of filters removed early stay until popped.
        self._heap: list[tuple[float, int]] = []
        self._live: dict[int, RefusalFilter] = {}
        self._next_id = 0

    def __len__(self) -> int:
        return len(self._live)

    def add(self, f: RefusalFilter) -> None:
        fid = self._next_id
        self._next_id += 1
        key = (f.framework_id, f.role, f.agent_id)
        self._by_key.setdefault(key, {})[fid] = f
        self._keys_by_framework.setdefault(f.framework_id, set()).add(key)
        self._keys_by_agent.setdefault(f.agent_id, set()).add(key)
        self._live[fid] = f
        heapq.heappush(self._heap, (f.expires_at, fid))

    def blocks(
        self, framework_id: str, role: str, agent_id: str, resources: Resources, now: float
    ) -> bool:
        """Whether a live filter refused a superset of ``resources`` on this agent."""
        found = self._by_key.get((framework_id, role, agent_id))
        if not found:
            return False
        return any(now < f.expires_at and f.resources.contains(resources) for f in found.values())

    def expire(self, now: float) -> int:
        """Drop filters whose time has come; returns how many."""
        dropped = 0
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, fid = heapq.heappop(heap)
            if fid in self._live:
                self._drop(fid)
                dropped += 1
        return dropped

    def next_expiry(self) -> float | None:
        heap = self._heap
        while heap and heap[0][1] not in self._live:
            heapq.heappop(heap)  # removed early (revive, agent gone)
        return heap[0][0] if heap else None

    def clear(self, framework_id: str, roles: Iterable[str] | None = None) -> None:
        """Remove a framework's filters, for the given roles or all of them."""
        keys = self._keys_by_framework.get(framework_id)
        if not keys:
            return
        wanted = None if roles is None else frozenset(roles)
        for key in [k for k in keys if wanted is None or k[1] in wanted]:
            for fid in list(self._by_key.get(key, ())):
                self._drop(fid)

    def remove_agent(self, agent_id: str) -> None:
        for key in list(self._keys_by_agent.get(agent_id, ())):
            for fid in list(self._by_key.get(key, ())):
                self._drop(fid)

    def _drop(self, fid: int) -> None:
        f = self._live.pop(fid)
        key = (f.framework_id, f.role, f.agent_id)
        found = self._by_key[key]
        del found[fid]
        if not found:
            del self._by_key[key]
            for index, owner in (
                (self._keys_by_framework, f.framework_id),
                (self._keys_by_agent, f.agent_id),
            ):
                keys = index[owner]
                keys.discard(key)
                if not keys:
                    del index[owner]
