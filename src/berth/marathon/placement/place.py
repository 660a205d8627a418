"""One placement round: feasibility -> rank -> select, for every instance asked, over one
snapshot of offers plus the overlay of what the round has placed so far.

Why the overlay: two instances placed in the same round must see each other (UNIQUE,
MAX_PER, GROUP_BY, spreading) and must never be given the same cpus or port. Each
placement therefore shrinks its `OfferSlot` and is added to its app's `AppContext` before
the next one is chosen.

Why round-robin over apps: an app asking for 100 instances should not starve one asking
for 1 when offers are short; each pass places one instance of every app still waiting.
An app that fails once is done for the round: the overlay only ever shrinks what is free
and grows what is placed, so a later attempt could only fail again.

>>> from berth.core.resources import Resources
>>> offers = [OfferView(f"O{i}", f"S{i}", f"host-{i}", Resources.of(cpus=1, mem=512))
...           for i in range(3)]
>>> req = PlacementRequest.of("/web", cpus=0.5, mem=64,
...                           constraints=(("hostname", "UNIQUE", None),))
>>> result = place([(req, 4)], offers, {}, seed=7)
>>> sorted(p.hostname for p in result.by_app["/web"])
['host-0', 'host-1', 'host-2']
>>> result.unplaced["/web"].count, dict(result.unplaced["/web"].reasons)
(1, {'UnfulfilledConstraint': 3})
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from berth.core.resources import Resources
from berth.marathon.placement.feasible import (
    REASONS,
    AppContext,
    OfferSlot,
    Rejection,
    first_rejection,
)
from berth.marathon.placement.offers import OfferView
from berth.marathon.placement.ports import assign_ports
from berth.marathon.placement.rank import RoundScale, score
from berth.marathon.placement.request import PlacedInstance, PlacementOptions, PlacementRequest
from berth.marathon.placement.result import Placement, PlacementResult, Unplaced
from berth.marathon.placement.select import Selection, sample_limit, select

_SCALAR_NAMES = ("cpus", "mem", "disk", "gpus")


@dataclass(slots=True)
class _Wanted:
    app: AppContext
    left: int


def place(
    requests: Sequence[tuple[PlacementRequest, int]],
    offers: Sequence[OfferView],
    placed: Mapping[str, Sequence[PlacedInstance]],
    *,
    seed: int,
    options: PlacementOptions | None = None,
) -> PlacementResult:
    """Place ``count`` new instances for each ``(request, count)`` on ``offers``.

    ``placed`` holds, per app id, the instances the app already has (running or launched
    earlier); constraints and spreading count them. Pure: the same arguments and ``seed``
    always give the same result. Raises `ValueError` on a caller bug (an app requested
    twice, duplicate offer ids, a negative count).
    """
    options = options or PlacementOptions()
    _check_arguments(requests, offers)
    rng = random.Random(seed)
    slots = [OfferSlot.of(offer) for offer in offers]
    # One seeded shuffle decides which offers each scan samples and breaks score ties.
    order = slots[:]
    rng.shuffle(order)
    scale = RoundScale.of(offers)
    queue = deque(
        _Wanted(AppContext.of(request, placed.get(request.app_id, ())), count)
        for request, count in requests
        if count > 0
    )
    placements: list[Placement] = []
    by_app: dict[str, list[Placement]] = {}
    used: dict[str, None] = {}
    unplaced: dict[str, Unplaced] = {}
    cursor = 0
    while queue:
        wanted = queue.popleft()
        app = wanted.app
        pick = _scan(app, order, cursor, scale, options)
        cursor = (cursor + pick.scanned) % len(order) if order else 0
        if pick.chosen is None:
            unplaced[app.request.app_id] = _unplaced(app, wanted.left, pick.rejected, len(order))
            continue
        placement = _commit(app, pick.chosen, rng, len(by_app.get(app.request.app_id, ())))
        placements.append(placement)
        by_app.setdefault(placement.app_id, []).append(placement)
        used.setdefault(placement.offer_id, None)
        wanted.left -= 1
        if wanted.left:
            queue.append(wanted)
    return PlacementResult(
        placements=tuple(placements),
        by_app={app_id: tuple(ps) for app_id, ps in by_app.items()},
        used_offers=tuple(used),
        leftover={slot.offer.id: slot.remaining for slot in slots},
        unplaced=unplaced,
    )


def _scan(
    app: AppContext,
    order: Sequence[OfferSlot],
    cursor: int,
    scale: RoundScale,
    options: PlacementOptions,
) -> Selection[OfferSlot, Rejection]:
    return select(
        order,
        start=cursor,
        # GROUP_BY balance needs every value in view: a sample may miss the one rack
        # nobody uses yet, and feasibility alone would not steer towards it.
        limit=sample_limit(len(order), exhaustive=bool(app.group_by)),
        reject=lambda slot: first_rejection(app, slot, options),
        score=lambda slot: score(app, slot, scale, options.strategy),
    )


def _check_arguments(
    requests: Sequence[tuple[PlacementRequest, int]], offers: Sequence[OfferView]
) -> None:
    apps = Counter(request.app_id for request, _ in requests)
    twice = sorted(app_id for app_id, n in apps.items() if n > 1)
    if twice:
        raise ValueError(f"apps requested more than once in one round: {twice}")
    negative = sorted(request.app_id for request, count in requests if count < 0)
    if negative:
        raise ValueError(f"negative instance counts for {negative}")
    ids = Counter(offer.id for offer in offers)
    dup = sorted(offer_id for offer_id, n in ids.items() if n > 1)
    if dup:
        raise ValueError(f"duplicate offer ids: {dup}")


def _commit(app: AppContext, slot: OfferSlot, rng: random.Random, nth: int) -> Placement:
    """Carve one instance out of ``slot`` and record it in the overlay."""
    usable = slot.usable(app.roles)
    taken = take_scalars(usable.resources, app.needs, app.roles)
    host_ports, port_resources = assign_ports(app.request.host_ports, usable.ports, rng)
    taken = taken + port_resources
    slot.take(taken)
    offer = slot.offer
    placement = Placement(
        app_id=app.request.app_id,
        offer_id=offer.id,
        agent_id=offer.agent_id,
        hostname=offer.hostname,
        host_ports=host_ports,
        resources=taken,
        attributes=offer.attributes,
        region=offer.region,
        zone=offer.zone,
    )
    # A stand-in id: the caller names real instances; this one only has to be counted.
    app.add(placement.as_placed(f"{app.request.app_id}#new{nth}"))
    return placement


def take_scalars(usable: Resources, needs: Mapping[str, int], roles: Sequence[str]) -> Resources:
    """The scalars for one instance out of ``usable``, role by role in ``roles`` order.

    ``needs`` is in milli-units. A need may be split over roles (cpus 1 = 0.5 reserved +
    0.5 unreserved), as Marathon does; the caller has checked that the total suffices.

    >>> usable = Resources.parse_text("cpus(eng):0.5;cpus:4;mem:512")
    >>> str(take_scalars(usable, {"cpus": 1000, "mem": 128000}, ("eng", "*")))
    'cpus:0.5;cpus(eng):0.5;mem:128'
    """
    taken = Resources.empty()
    for name in _SCALAR_NAMES:
        need = needs.get(name, 0)
        for role in roles:
            if not need:
                break
            have = usable.reserved(role).milli_scalars().get(name, 0)
            part = min(need, have)
            if part:
                taken = taken + Resources.scalar(name, part / 1000, role)
                need -= part
        assert not need, f"not enough {name}; feasibility should have refused the offer"
    return taken


def _unplaced(
    app: AppContext,
    count: int,
    rejected: Sequence[tuple[OfferSlot, Rejection]],
    offers: int,
) -> Unplaced:
    counts = Counter(rejection.reason for _, rejection in rejected)
    return Unplaced(
        app_id=app.request.app_id,
        count=count,
        reasons={r.value: counts[r] for r in REASONS if counts[r]},
        details=tuple(rejection for _, rejection in rejected),
        processed_offers=offers,
    )
