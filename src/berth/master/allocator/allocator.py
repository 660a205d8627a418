"""The allocation mechanism: books of agents, frameworks and grants, and one allocation run.

Pure and in-memory: no clock (callers pass ``now``, monotonic seconds), no I/O, no
asyncio, randomness from an injected `random.Random`. The master's asyncio shell decides
*when* to run (debouncing triggers into one pending run over a set of candidate agents)
and turns the returned `Allocation`s into offers.

Who gets what is the sorters' business (policy, `sorter.py` / `drf.py`): one role sorter
over role names (hierarchical) and one framework sorter per role. This module keeps their
books current and walks the order they give.

Glossary:
    grant     resources handed to (framework, role) on an agent by `allocate`; they count
              as allocated (for DRF and for "free") until given back with `recover`.
    used      resources in use that did not come from a grant of this allocator
              (tasks found on a re-registering agent): `add_agent(used=...)`,
              `allocate_used`. Booked exactly like grants.
    tracked   a (framework, role) pair the sorters know: the framework is subscribed to
              the role, or still holds something under it (possibly a framework the
              master has not heard from yet, after a failover).
    active    a tracked pair that may receive grants: framework known and active, role
              subscribed and not suppressed. A role is active when it has one.

Calls naming an unknown agent or framework are no-ops (the master may race with a
removal); adding an agent or framework twice is a bug and raises `ValueError`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from berth.core.resources import Resources
from berth.master.allocator.drf import DRFSorter
from berth.master.allocator.filters import Filters, RefusalFilter, effective_refuse_seconds
from berth.master.allocator.sorter import Sorter

_EMPTY = Resources.empty()

# Mesos's --min_allocatable_resources default, "cpus:0.01|mem:32": an offer is worth
# making if it has at least a hundredth of a cpu OR 32 MB of memory.
DEFAULT_MIN_ALLOCATABLE: tuple[Resources, ...] = (
    Resources.scalar("cpus", 0.01),
    Resources.scalar("mem", 32),
)


@dataclass(frozen=True, slots=True)
class Allocation:
    """One grant: everything on ``agent_id`` allocatable to ``role``, for one framework."""

    framework_id: str
    role: str
    agent_id: str
    resources: Resources


@dataclass(frozen=True, slots=True)
class AllocatorStatistics:
    agents: int
    active_agents: int
    frameworks: int
    active_frameworks: int
    roles: tuple[str, ...]  # tracked roles, sorted by name
    filters: int
    allocation_runs: int
    grants: int  # grants made by all runs so far
    total: Mapping[str, float]  # cluster scalar totals, e.g. {"cpus": 8.0, "mem": 4096.0}
    allocated: Mapping[str, float]  # granted (offered) + used, same keys as Mesos metrics
    weights: Mapping[str, float]


@dataclass(slots=True, eq=False)
class _Agent:
    total: Resources
    free: Resources
    active: bool = True
    allocated: Resources = _EMPTY
    # (framework_id, role) -> what that pair holds here
    allocations: dict[tuple[str, str], Resources] = field(default_factory=dict)
    # Mesos never offers an agent without cpus or without mem.
    offerable: bool = False


@dataclass(slots=True, eq=False)
class _Framework:
    roles: frozenset[str]
    suppressed: set[str]
    active: bool


def _alternatives(spec: Resources | Sequence[Resources] | None) -> list[list[tuple[str, float]]]:
    """Normalise ``min_allocatable`` into OR-of-AND quantity lists.

    A single `Resources` means each of its names is enough on its own (so the default
    reads naturally as ``Resources.of(cpus=0.01, mem=32)``); a sequence gives Mesos's full
    form, one `Resources` per alternative, all of whose quantities must be met.
    """
    if spec is None:
        spec = DEFAULT_MIN_ALLOCATABLE
    if isinstance(spec, Resources):
        return [[(name, spec.quantity(name))] for name in sorted(spec.names())]
    return [[(name, alt.quantity(name)) for name in sorted(alt.names())] for alt in spec]


class Allocator:
    """Books and allocation runs; see the module doc.

    >>> a = Allocator(rng=random.Random(0))
    >>> a.add_agent("S1", Resources.of(cpus=4, mem=1024))
    >>> a.add_framework("F1", ["*"])
    >>> [(g.framework_id, str(g.resources)) for g in a.allocate(now=0.0)]
    [('F1', 'cpus:4;mem:1024')]
    >>> a.recover("S1", "F1", "*", Resources.of(cpus=4, mem=1024), refuse_seconds=5, now=0.0)
    >>> a.allocate(now=1.0), a.next_filter_expiry()
    ([], 5.0)
    """

    def __init__(
        self,
        *,
        rng: random.Random | None = None,
        min_allocatable: Resources | Sequence[Resources] | None = None,
        fair_sharing_excluded: frozenset[str] = frozenset(),
        role_sorter: Callable[[], Sorter] | None = None,
        framework_sorter: Callable[[], Sorter] | None = None,
    ) -> None:
        self._rng = rng or random.Random()
        self._min_allocatable = _alternatives(min_allocatable)
        excluded = frozenset(fair_sharing_excluded)
        self._make_framework_sorter: Callable[[], Sorter] = framework_sorter or (
            lambda: DRFSorter(excluded=excluded)
        )
        self._role_sorter: Sorter = (
            role_sorter() if role_sorter else DRFSorter(hierarchical=True, excluded=excluded)
        )
        self._framework_sorters: dict[str, Sorter] = {}
        self._agents: dict[str, _Agent] = {}
        self._frameworks: dict[str, _Framework] = {}
        self._filters = Filters()
        self._weights: dict[str, float] = {}
        self._cluster_total = _EMPTY  # scalar quantities only (what sorters need)
        self._allocated_milli: dict[str, int] = {}
        self._active_agents = 0  # kept, not counted: statistics() must not scan agents
        self._runs = 0
        self._grants = 0

    # ================================================================== agents

    def add_agent(
        self,
        agent_id: str,
        total: Resources,
        used: Mapping[tuple[str, str], Resources] | None = None,
    ) -> None:
        """Start offering ``agent_id``. ``used`` maps (framework_id, role) to what is
        already in use there (tasks of a re-registering agent), booked like grants."""
        if agent_id in self._agents:
            raise ValueError(f"agent {agent_id!r} is already known to the allocator")
        agent = _Agent(total=total, free=total, offerable=_offerable(total))
        self._agents[agent_id] = agent
        self._active_agents += 1
        self._set_cluster_total(self._cluster_total + total.scalar_quantities())
        for (framework_id, role), resources in (used or {}).items():
            self._book_used(agent_id, agent, framework_id, role, resources)

    def remove_agent(self, agent_id: str) -> None:
        """Forget the agent and everything allocated on it."""
        agent = self._agents.pop(agent_id, None)
        if agent is None:
            return
        self._active_agents -= agent.active
        for (framework_id, role), held in list(agent.allocations.items()):
            self._unbook(agent_id, agent, framework_id, role, held)
            self._untrack_if_idle(framework_id, role)
        self._filters.remove_agent(agent_id)
        self._set_cluster_total(self._cluster_total - agent.total.scalar_quantities())

    def activate_agent(self, agent_id: str) -> None:
        agent = self._agents.get(agent_id)
        if agent is not None and not agent.active:
            agent.active = True
            self._active_agents += 1

    def deactivate_agent(self, agent_id: str) -> None:
        """Stop offering the agent; what is allocated there stays allocated."""
        agent = self._agents.get(agent_id)
        if agent is not None and agent.active:
            agent.active = False
            self._active_agents -= 1

    def update_agent_total(self, agent_id: str, total: Resources) -> None:
        """The agent's resources changed. If it shrank below what is allocated, nothing is
        free until enough is recovered (free saturates at zero)."""
        agent = self._agents.get(agent_id)
        if agent is None:
            return
        self._set_cluster_total(
            self._cluster_total - agent.total.scalar_quantities() + total.scalar_quantities()
        )
        agent.total = total
        agent.free = total - agent.allocated
        agent.offerable = _offerable(total)

    # ================================================================== frameworks

    def add_framework(
        self,
        framework_id: str,
        roles: Iterable[str],
        *,
        suppressed_roles: Iterable[str] = (),
        active: bool = True,
    ) -> None:
        if framework_id in self._frameworks:
            raise ValueError(f"framework {framework_id!r} is already known to the allocator")
        role_set = frozenset(roles)
        self._frameworks[framework_id] = _Framework(
            roles=role_set, suppressed=set(suppressed_roles) & role_set, active=active
        )
        for role in role_set:
            self._track(framework_id, role)
            self._refresh(framework_id, role)

    def update_framework(
        self, framework_id: str, roles: Iterable[str], suppressed_roles: Iterable[str]
    ) -> None:
        """New roles and suppressed roles (UPDATE_FRAMEWORK, re-subscription). Filters of
        roles the framework leaves are dropped; what it holds under them stays booked."""
        fw = self._frameworks.get(framework_id)
        if fw is None:
            return
        old_roles = fw.roles
        fw.roles = frozenset(roles)
        fw.suppressed = set(suppressed_roles) & fw.roles
        for role in old_roles - fw.roles:
            self._filters.clear(framework_id, [role])
            self._refresh(framework_id, role)
            self._untrack_if_idle(framework_id, role)
        for role in fw.roles:
            self._track(framework_id, role)
            self._refresh(framework_id, role)

    def remove_framework(self, framework_id: str) -> None:
        """Forget the framework; everything it holds is released for others."""
        if self._frameworks.pop(framework_id, None) is None:
            return
        self._filters.clear(framework_id)
        for role, sorter in list(self._framework_sorters.items()):
            if not sorter.contains(framework_id):
                continue
            for agent_id, held in sorter.allocation(framework_id).items():
                self._unbook(agent_id, self._agents[agent_id], framework_id, role, held)
            if role in self._framework_sorters:
                self._refresh(framework_id, role)
                self._untrack_if_idle(framework_id, role)

    def activate_framework(self, framework_id: str) -> None:
        self._set_active(framework_id, True)

    def deactivate_framework(self, framework_id: str) -> None:
        """No grants until activated again. Filters are dropped (Mesos does the same: the
        framework gets fresh offers when it comes back)."""
        self._set_active(framework_id, False)
        self._filters.clear(framework_id)

    def suppress(self, framework_id: str, roles: Iterable[str] | None = None) -> None:
        """Stop granting to the framework in ``roles`` (None: all its roles). Filters and
        outstanding grants are left alone."""
        fw = self._frameworks.get(framework_id)
        if fw is None:
            return
        targets = fw.roles if roles is None else fw.roles & frozenset(roles)
        fw.suppressed |= targets
        for role in targets:
            self._refresh(framework_id, role)

    def revive(self, framework_id: str, roles: Iterable[str] | None = None) -> None:
        """Unsuppress ``roles`` (None: all) and drop the framework's filters for them."""
        fw = self._frameworks.get(framework_id)
        if fw is None:
            return
        targets = fw.roles if roles is None else fw.roles & frozenset(roles)
        fw.suppressed -= targets
        self._filters.clear(framework_id, None if roles is None else targets)
        for role in targets:
            self._refresh(framework_id, role)

    def set_weight(self, role: str, weight: float) -> None:
        """Weight of a role (path) in the role sorter; must be positive. Default 1."""
        self._role_sorter.set_weight(role, weight)
        self._weights[role] = weight

    # ================================================================== resources

    def allocate_used(
        self, agent_id: str, framework_id: str, role: str, resources: Resources
    ) -> None:
        """Book resources in use that did not come from a grant (e.g. re-registered tasks)."""
        agent = self._agents.get(agent_id)
        if agent is not None:
            self._book_used(agent_id, agent, framework_id, role, resources)

    def recover(
        self,
        agent_id: str,
        framework_id: str,
        role: str,
        resources: Resources,
        *,
        refuse_seconds: float | None = None,
        now: float = 0.0,
    ) -> None:
        """Give back resources held by (framework, role) on an agent: a declined or
        rescinded offer, the unused part of an accepted one, a finished task.

        With ``refuse_seconds`` (a decline) and a known framework, also install a refusal
        filter for what was recovered, until ``now`` + the effective duration (see
        `filters`). Giving back more than is held releases what is held; when nothing is
        held there, this is a no-op (and installs no filter).
        """
        agent = self._agents.get(agent_id)
        sorter = self._framework_sorters.get(role)
        if agent is None or sorter is None or not sorter.contains(framework_id):
            return
        released = self._unbook(agent_id, agent, framework_id, role, resources)
        self._untrack_if_idle(framework_id, role)
        if refuse_seconds is None or framework_id not in self._frameworks or not released:
            return
        seconds = effective_refuse_seconds(refuse_seconds)
        if seconds is not None:
            self._filters.add(RefusalFilter(framework_id, role, agent_id, released, now + seconds))

    # ================================================================== the run

    def allocate(self, now: float, agent_ids: Iterable[str] | None = None) -> list[Allocation]:
        """One allocation run over the candidate agents (None: all agents).

        Agents are shuffled (so no agent is always first); then for each agent, for each
        active role in role-sorter order, for each active framework of that role in
        framework-sorter order, the first framework that is not filtered gets everything
        on the agent allocatable to the role. The sorters are updated after every grant,
        so the next agent sees the new order: in practice each agent goes whole to the
        framework furthest below its fair share.
        """
        self._runs += 1
        self._filters.expire(now)
        if not self._role_sorter.has_active():
            return []
        if agent_ids is None:
            candidates = list(self._agents)
        else:
            # Sorted first so that the shuffle, not set iteration order, decides.
            candidates = sorted({a for a in agent_ids if a in self._agents})
        self._rng.shuffle(candidates)

        grants: list[Allocation] = []
        role_sorter = self._role_sorter
        filters = self._filters
        filtered = len(filters) > 0
        for agent_id in candidates:
            agent = self._agents[agent_id]
            # Cheap checks first: most agents are full or idle-but-ineligible.
            if not (agent.active and agent.offerable and agent.free):
                continue
            for role in role_sorter.sort():
                candidate = agent.free.allocatable_to(role)
                if not candidate or not self._meets_minimum(candidate):
                    continue
                for framework_id in self._framework_sorters[role].sort():
                    if filtered and filters.blocks(framework_id, role, agent_id, candidate, now):
                        continue
                    self._book(agent_id, agent, framework_id, role, candidate)
                    grants.append(Allocation(framework_id, role, agent_id, candidate))
                    break
                if not agent.free:
                    break
        self._grants += len(grants)
        return grants

    def _meets_minimum(self, candidate: Resources) -> bool:
        alternatives = self._min_allocatable
        if not alternatives:
            return True
        have = candidate.quantities()
        return any(
            all(have.get(name, 0.0) >= amount for name, amount in alt) for alt in alternatives
        )

    # ================================================================== queries

    def next_filter_expiry(self) -> float | None:
        """Earliest expiry of a stored filter: when a run may offer something new."""
        return self._filters.next_expiry()

    def free(self, agent_id: str) -> Resources:
        """What is neither granted nor used on the agent. KeyError if unknown."""
        return self._agents[agent_id].free

    def allocation(self, agent_id: str) -> dict[tuple[str, str], Resources]:
        """What each (framework_id, role) holds on the agent. KeyError if unknown."""
        return dict(self._agents[agent_id].allocations)

    def framework_allocation(self, framework_id: str) -> dict[tuple[str, str], Resources]:
        """What the framework holds, by (role, agent_id)."""
        out: dict[tuple[str, str], Resources] = {}
        for role, sorter in self._framework_sorters.items():
            if sorter.contains(framework_id):
                for agent_id, held in sorter.allocation(framework_id).items():
                    out[(role, agent_id)] = held
        return out

    def sorted_roles(self) -> list[str]:
        """Active roles in the order the next run will consider them."""
        return self._role_sorter.sort()

    def sorted_frameworks(self, role: str) -> list[str]:
        """Active frameworks of ``role`` in the order the next run will consider them."""
        sorter = self._framework_sorters.get(role)
        return sorter.sort() if sorter else []

    def statistics(self) -> AllocatorStatistics:
        return AllocatorStatistics(
            agents=len(self._agents),
            active_agents=self._active_agents,
            frameworks=len(self._frameworks),
            active_frameworks=sum(1 for f in self._frameworks.values() if f.active),
            roles=tuple(sorted(self._framework_sorters)),
            filters=len(self._filters),
            allocation_runs=self._runs,
            grants=self._grants,
            total=self._cluster_total.scalars(),
            allocated={k: v / 1000 for k, v in self._allocated_milli.items()},
            weights=dict(self._weights),
        )

    # ================================================================== bookkeeping

    def _set_cluster_total(self, total: Resources) -> None:
        self._cluster_total = total
        self._role_sorter.set_total(total)
        for sorter in self._framework_sorters.values():
            sorter.set_total(total)

    def _set_active(self, framework_id: str, active: bool) -> None:
        fw = self._frameworks.get(framework_id)
        if fw is None or fw.active == active:
            return
        fw.active = active
        for role, sorter in self._framework_sorters.items():
            if sorter.contains(framework_id):
                self._refresh(framework_id, role)

    def _track(self, framework_id: str, role: str) -> None:
        sorter = self._framework_sorters.get(role)
        if sorter is None:
            sorter = self._make_framework_sorter()
            sorter.set_total(self._cluster_total)
            self._framework_sorters[role] = sorter
            self._role_sorter.add_client(role)
            self._role_sorter.deactivate(role)  # until _refresh finds an active framework
        if not sorter.contains(framework_id):
            sorter.add_client(framework_id)
            sorter.deactivate(framework_id)

    def _refresh(self, framework_id: str, role: str) -> None:
        """Set the pair's (and so the role's) activity from the framework's state."""
        sorter = self._framework_sorters[role]
        fw = self._frameworks.get(framework_id)
        if fw is not None and fw.active and role in fw.roles and role not in fw.suppressed:
            sorter.activate(framework_id)
        else:
            sorter.deactivate(framework_id)
        if sorter.has_active():
            self._role_sorter.activate(role)
        else:
            self._role_sorter.deactivate(role)

    def _untrack_if_idle(self, framework_id: str, role: str) -> None:
        sorter = self._framework_sorters[role]
        fw = self._frameworks.get(framework_id)
        if (fw is not None and role in fw.roles) or sorter.allocation(framework_id):
            return
        sorter.remove_client(framework_id)
        if not sorter.clients():
            del self._framework_sorters[role]
            self._role_sorter.remove_client(role)

    def _book_used(
        self, agent_id: str, agent: _Agent, framework_id: str, role: str, resources: Resources
    ) -> None:
        if not resources:
            return
        self._track(framework_id, role)
        self._refresh(framework_id, role)
        self._book(agent_id, agent, framework_id, role, resources)

    def _book(
        self, agent_id: str, agent: _Agent, framework_id: str, role: str, resources: Resources
    ) -> None:
        key = (framework_id, role)
        agent.allocations[key] = agent.allocations.get(key, _EMPTY) + resources
        agent.allocated = agent.allocated + resources
        # Equal to total - allocated (saturating difference), but cheaper.
        agent.free = agent.free - resources
        self._role_sorter.allocated(role, agent_id, resources)
        self._framework_sorters[role].allocated(framework_id, agent_id, resources)
        milli = self._allocated_milli
        for name, amount in resources.milli_scalars().items():
            milli[name] = milli.get(name, 0) + amount

    def _unbook(
        self, agent_id: str, agent: _Agent, framework_id: str, role: str, resources: Resources
    ) -> Resources:
        """Release up to ``resources`` of what the pair holds here; returns what was released."""
        key = (framework_id, role)
        held = agent.allocations.get(key)
        if held is None:
            return _EMPTY
        left = held - resources
        released = held - left  # never more than was held
        if not released:
            return _EMPTY
        if left:
            agent.allocations[key] = left
        else:
            del agent.allocations[key]
        agent.allocated = agent.allocated - released
        agent.free = agent.total - agent.allocated
        self._role_sorter.unallocated(role, agent_id, released)
        self._framework_sorters[role].unallocated(framework_id, agent_id, released)
        milli = self._allocated_milli
        for name, amount in released.milli_scalars().items():
            value = milli[name] - amount
            if value:
                milli[name] = value
            else:
                del milli[name]
        return released


def _offerable(total: Resources) -> bool:
    return total.scalar_value("cpus") > 0 and total.scalar_value("mem") > 0
