"""Which instances to kill when an app scales down (reference 3.3).

Order of choice: the instances the user named; then, while a ``GROUP_BY`` constraint is
uneven, one from a most crowded value (as Marathon re-balances); then the rest by
condition, Unreachable -> Staging -> Starting -> Running -> anything else, and within a
condition by ``killSelection`` on the started (else staged) time.

Within a crowded GROUP_BY value Marathon takes any instance; here it is the one the
condition/killSelection order would kill first, so re-balancing still prefers the
unreachable and the young.

>>> def inst(i, cond, t, rack):
...     return KillCandidate(i, cond, t, attributes=(Attribute("rack", "TEXT", rack),))
>>> fleet = [inst("a", "Running", 1, "r1"), inst("b", "Running", 2, "r1"),
...          inst("c", "Running", 3, "r1"), inst("d", "Staging", 4, "r2")]
>>> scale_down_victims(fleet, 2, "YOUNGEST_FIRST", [("rack", "GROUP_BY", None)])
['c', 'b']
>>> scale_down_victims(fleet, 2, "YOUNGEST_FIRST", [])
['d', 'c']
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from berth.core.attributes import Attribute
from berth.marathon.placement.constraints import Constraint, RawConstraint, field_value

KillSelection = Literal["YOUNGEST_FIRST", "OLDEST_FIRST"]


@dataclass(frozen=True, slots=True)
class KillCandidate:
    """An instance that may be killed: its condition, its age and where it runs.

    ``condition`` is Marathon's condition name (``Running``, ``Staging``, ``Unreachable``,
    ...; ``TASK_RUNNING`` style names are accepted too). ``since`` is when it started
    running, else when it was staged, in seconds; None when it has not even been staged
    (it then counts as the youngest).
    """

    instance_id: str
    condition: str
    since: float | None
    agent_id: str = ""
    hostname: str = ""
    attributes: tuple[Attribute, ...] = ()
    region: str | None = None
    zone: str | None = None


# Ordered rule table, first match wins: (conditions, rank); lower ranks die first.
_CONDITION_RANKS: tuple[tuple[frozenset[str], int], ...] = (
    # Unreachable ones serve nobody now; an inactive one is already being replaced.
    (frozenset({"unreachable", "unreachableinactive"}), 0),
    # Not serving yet: killing these loses the least work.
    (frozenset({"staging"}), 1),
    (frozenset({"starting"}), 2),
    # Serving: kill last among the known conditions.
    (frozenset({"running"}), 3),
)
_OTHER_RANK = 4


def condition_rank(condition: str) -> int:
    """0 for Unreachable ... 3 for Running, 4 for anything else.

    >>> [condition_rank(c) for c in ("TASK_UNREACHABLE", "Staging", "Running", "Killing")]
    [0, 1, 3, 4]
    """
    name = condition.lower().removeprefix("task_").replace("_", "")
    for names, rank in _CONDITION_RANKS:
        if name in names:
            return rank
    return _OTHER_RANK


def kill_order_key(c: KillCandidate, kill_selection: KillSelection) -> tuple[int, float, str]:
    """Sort key: the smallest dies first. Ties in condition go by age, then by id."""
    since = math.inf if c.since is None else c.since  # never staged: the youngest
    age_key = -since if kill_selection == "YOUNGEST_FIRST" else since
    return (condition_rank(c.condition), age_key, c.instance_id)


def scale_down_victims(
    instances: Sequence[KillCandidate],
    count: int,
    kill_selection: KillSelection = "YOUNGEST_FIRST",
    constraints: Iterable[RawConstraint | Constraint] = (),
    *,
    explicit: Collection[str] = (),
) -> list[str]:
    """The ids of the instances to kill, in the order to kill them.

    ``count`` is how many to kill in total; ``explicit`` names instances that must go
    whatever ``count`` says (they count towards it; ids not among ``instances`` are
    ignored). Never returns an id twice, nor more than ``max(count, explicit)`` ids.
    """
    order = sorted(instances, key=lambda c: kill_order_key(c, kill_selection))
    named = [c for c in instances if c.instance_id in explicit]
    victims = [c.instance_id for c in named]
    rest = [c for c in order if c.instance_id not in explicit]
    wanted = max(0, count - len(victims))
    if wanted >= len(rest):
        return victims + [c.instance_id for c in rest]
    compiled = [c if isinstance(c, Constraint) else Constraint.parse(c) for c in constraints]
    picked = _rebalance(rest, wanted, [c for c in compiled if c.operator == "GROUP_BY"])
    chosen = set(picked)
    picked += [c.instance_id for c in rest if c.instance_id not in chosen][: wanted - len(picked)]
    return victims + picked


def _rebalance(
    rest: Sequence[KillCandidate], wanted: int, group_by: Sequence[Constraint]
) -> list[str]:
    """Kill from the most crowded value of the most uneven GROUP_BY field until every
    field is even or ``wanted`` are chosen. ``rest`` is in kill order."""
    # field -> value -> members in kill order. Instances lacking the field form their own
    # group (value None), as in Marathon.
    distributions: list[dict[str | None, list[KillCandidate]]] = []
    for c in group_by:
        groups: dict[str | None, list[KillCandidate]] = {}
        for candidate in rest:
            groups.setdefault(field_value(c.field, candidate), []).append(candidate)
        if len(groups) > 1:  # one group is always even
            distributions.append(groups)
    position = {c.instance_id: i for i, c in enumerate(rest)}
    picked: list[str] = []
    gone: set[str] = set()
    while len(picked) < wanted and distributions:
        sizes = [
            {value: sum(m.instance_id not in gone for m in members) for value, members in d.items()}
            for d in distributions
        ]
        spread = [max(s.values()) - min(s.values()) for s in sizes]
        worst = max(range(len(distributions)), key=lambda i: spread[i])  # first on ties
        if spread[worst] == 0:
            break
        top = max(sizes[worst].values())
        crowded = [
            m
            for value, members in distributions[worst].items()
            if sizes[worst][value] == top
            for m in members
            if m.instance_id not in gone
        ]
        victim = min(crowded, key=lambda m: position[m.instance_id])
        picked.append(victim.instance_id)
        gone.add(victim.instance_id)
    return picked
