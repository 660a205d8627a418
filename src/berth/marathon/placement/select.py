"""Selection: the best of a bounded sample of feasible offers (Nomad's power of two choices).

Scoring every offer for every instance costs N checks per instance; the best of a few
random feasible ones is nearly as good (two random choices already cut the worst load
exponentially) and costs about log2 N. The round walks one seeded shuffle of its offers
with a moving cursor, so successive instances look at different offers instead of
piling onto the same few.

>>> pick = select(["a", "b", "c", "d"], start=1, limit=2,
...               reject=lambda o: "full" if o == "b" else None, score=lambda o: ord(o))
>>> pick.chosen, pick.scanned, pick.rejected
('d', 3, (('b', 'full'),))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def sample_limit(n: int, *, exhaustive: bool = False) -> int:
    """How many feasible offers to compare: max(2, ceil(log2 n)), all when asked or when n
    is that small.

    >>> [sample_limit(n) for n in (0, 1, 2, 3, 16, 17, 1000)], sample_limit(1000, exhaustive=True)
    ([0, 1, 2, 2, 4, 5, 10], 1000)
    """
    if exhaustive or n <= 2:
        return n
    return min(n, max(2, math.ceil(math.log2(n))))


@dataclass(frozen=True, slots=True)
class Selection(Generic[T, R]):
    """The outcome of one scan: the best feasible item (None if none), how many items were
    looked at, and every refusal met on the way (all of them when nothing was feasible)."""

    chosen: T | None
    scanned: int
    rejected: tuple[tuple[T, R], ...]


def select(
    items: Sequence[T],
    *,
    start: int,
    limit: int,
    reject: Callable[[T], R | None],
    score: Callable[[T], float],
) -> Selection[T, R]:
    """Walk ``items`` from ``start`` (wrapping around) until ``limit`` feasible ones are
    found or all were seen; return the highest ``score``, the earliest one on ties.

    ``reject`` says why an item is infeasible (None when feasible). Scores are computed
    only for feasible items. Because ties go to the earliest, the seed that shuffled
    ``items`` also decides ties.
    """
    n = len(items)
    best: T | None = None
    best_score = -math.inf
    feasible = 0
    rejected: list[tuple[T, R]] = []
    scanned = 0
    while scanned < n and feasible < limit:
        item = items[(start + scanned) % n]
        scanned += 1
        why = reject(item)
        if why is not None:
            rejected.append((item, why))
            continue
        feasible += 1
        value = score(item)
        if value > best_score:
            best, best_score = item, value
    return Selection(best, scanned, tuple(rejected))
