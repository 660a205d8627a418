"""Ranking: among feasible offers, which is best for one more instance of an app.

Each ranker gives one score in [0, 1] (or None when it has nothing to say, e.g. no
GROUP_BY constraint); the offer's score is their weighted mean, so adding a ranker never
changes the scale. Higher is better. Ties are broken by the selector, in the round's
seeded offer order.

Worked example (spread; weights 3 spread, 3 balance, 1 free): an app with one instance on
agent A is placed again. Offer on A, 2 of 4 cpus and 1 of 4 GiB free after the instance:
spread 1/(1+1) = 0.5, free (2/4 + 1/4)/2 = 0.375 -> (3*0.5 + 0.375)/4 = 0.47. Offer on B,
with nothing of the app, 1 cpu and 1 GiB free after: spread 1, free 0.25 -> (3 + 0.25)/4
= 0.81. B wins: in spread mode, where the app already runs matters three times as much as
how much room is left. The obvious alternative, sorting by instance count and only then by
room, makes scores incomparable once more rankers arrive; weights keep them one number.

>>> from berth.core.resources import Resources
>>> from berth.marathon.placement.offers import OfferView
>>> from berth.marathon.placement.request import PlacedInstance, PlacementRequest
>>> a = OfferSlot.of(OfferView("O1", "A", "a", Resources.of(cpus=3, mem=2048)))
>>> b = OfferSlot.of(OfferView("O2", "B", "b", Resources.of(cpus=2, mem=2048)))
>>> app = AppContext.of(PlacementRequest.of("/web", cpus=1, mem=1024),
...                     [PlacedInstance("web.1", "A", "a")])
>>> scale = RoundScale.of([a.offer, b.offer])
>>> round(score(app, a, scale, "spread"), 2), round(score(app, b, scale, "spread"), 2)
(0.52, 0.85)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from berth.marathon.placement.feasible import AppContext, OfferSlot
from berth.marathon.placement.offers import OfferView
from berth.marathon.placement.request import Strategy

# The scalars whose room the fit rankers look at; disk and gpus are rarely the bottleneck
# and would dilute the two that are.
_FIT = ("cpus", "mem")


@dataclass(frozen=True, slots=True)
class RoundScale:
    """The largest quantity of each fit scalar in any offer of the round (milli-units, >= 1),
    so "room left" scores compare offers with each other, not with an unknown agent size."""

    largest: dict[str, int]

    @classmethod
    def of(cls, offers: Iterable[OfferView]) -> RoundScale:
        largest = dict.fromkeys(_FIT, 1)
        for offer in offers:
            milli = offer.resources.milli_scalars()
            for name in _FIT:
                largest[name] = max(largest[name], milli.get(name, 0))
        return cls(largest)


Ranker = Callable[[AppContext, OfferSlot, RoundScale], float | None]


def app_spread(app: AppContext, slot: OfferSlot, scale: RoundScale) -> float:
    """1 on an agent without this app, 1/2 with one instance, 1/3 with two, ..."""
    return 1.0 / (1 + app.per_agent[slot.offer.agent_id])


def group_by_balance(app: AppContext, slot: OfferSlot, scale: RoundScale) -> float | None:
    """Prefer GROUP_BY values with fewer instances: mean of 1/(1 + count) over them.

    Feasibility only refuses values above the least used one *among values in use*; this
    is what makes a value nobody uses yet win over one at that minimum.
    """
    if not app.group_by:
        return None
    total = 0.0
    for c in app.group_by:
        value = slot.value(c.field)
        count = app.index.count(c.field, value) if value is not None else 0
        total += 1.0 / (1 + count)
    return total / len(app.group_by)


def free_after(app: AppContext, slot: OfferSlot, scale: RoundScale) -> float:
    """Room left after this instance, as a share of the round's largest offer (cpus, mem)."""
    milli = slot.usable(app.roles).milli
    total = 0.0
    for name in _FIT:
        left = max(0, milli.get(name, 0) - app.needs.get(name, 0))
        total += min(1.0, left / scale.largest[name])
    return total / len(_FIT)


def packed_after(app: AppContext, slot: OfferSlot, scale: RoundScale) -> float:
    """The opposite of `free_after`: binpacking fills the fullest offers first."""
    return 1.0 - free_after(app, slot, scale)


# (weight, ranker) per strategy. Binpack drops app_spread on purpose: packing an app's
# instances together is the point. GROUP_BY balance stays: it is the app's own wish.
RANKERS: dict[Strategy, tuple[tuple[float, Ranker], ...]] = {
    "spread": ((3.0, app_spread), (3.0, group_by_balance), (1.0, free_after)),
    "binpack": ((3.0, group_by_balance), (1.0, packed_after)),
}


def score(app: AppContext, slot: OfferSlot, scale: RoundScale, strategy: Strategy) -> float:
    """The weighted mean of the strategy's rankers that apply; in [0, 1]."""
    weighted = 0.0
    weights = 0.0
    for weight, ranker in RANKERS[strategy]:
        value = ranker(app, slot, scale)
        if value is not None:
            weighted += weight * value
            weights += weight
    return weighted / weights if weights else 0.0
