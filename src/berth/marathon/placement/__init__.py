"""Placement: which offers the instances an app is waiting for should launch on.

Owns: turning Mesos offers into `OfferView`s, Marathon constraints (validation and
checks), host port assignment, and the round that places instances: feasibility ->
rank -> select over one snapshot of offers. Also the scale-down choice of victims, as it
reads the same constraints. Pure code: no I/O, no clock, no global randomness (the seed
and ``now`` are arguments).

Must not know: how apps are stored or versioned (the caller derives a `PlacementRequest`),
how tasks are launched or declined, or the launch queue's backoff.

Flow of one round (`place`)::

    offers ──> OfferSlot (offer + what is left) ─┐
    placed ──> AppContext (request + instances) ─┤
                                                 v
    for each instance, apps round-robin:
      select: walk the seeded offer order from a cursor, sampling ~log2 N feasible offers
        └─ feasible.first_rejection: roles, constraints, maintenance, cpus, mem, disk,
           gpus, ports, scarce resources (Marathon's funnel order; first "no" wins)
        └─ rank.score: spread (or binpack) + GROUP_BY balance + room left, weighted mean
      commit: take scalars (reserved roles first) and ports from the slot, add the
        instance to the app's context, so the next choice sees both
    ──> PlacementResult: placements, leftover per offer, Unplaced(app, count, reasons)

Glossary:
  offer      what one agent has free for one of our roles (mesos.md a, "Offer").
  slot       an offer plus the overlay of this round's placements on it.
  funnel     Marathon's ordered reject reasons; an offer is charged to the first that fails.
  accepted roles  ``acceptedResourceRoles``: reservation roles whose resources the app uses.

Example::

    result = place([(request, 3)], offers, {"/web": running}, seed=eval_seed)
    for p in result.placements: launch(p.offer_id, p.resources, p.host_ports)
    decline(result.unused_offers())
"""

from berth.marathon.placement.constraints import (
    OPERATOR_MESSAGE,
    OPERATORS,
    Constraint,
    PlacedIndex,
    attribute_text,
    check_constraint,
    constraint_problems,
    constraint_rejection,
    field_value,
)
from berth.marathon.placement.feasible import (
    CHECKS,
    REASONS,
    AppContext,
    OfferSlot,
    Rejection,
    RejectReason,
    check_offer,
    first_rejection,
)
from berth.marathon.placement.offers import OfferView, Unavailability
from berth.marathon.placement.place import place, take_scalars
from berth.marathon.placement.ports import PortPool, assign_ports, port_pool, ports_problem
from berth.marathon.placement.rank import RANKERS, RoundScale, score
from berth.marathon.placement.request import (
    PlacedInstance,
    PlacementOptions,
    PlacementRequest,
)
from berth.marathon.placement.result import Placement, PlacementResult, Unplaced
from berth.marathon.placement.scale_down import (
    KillCandidate,
    KillSelection,
    condition_rank,
    scale_down_victims,
)
from berth.marathon.placement.select import Selection, sample_limit, select

__all__ = [
    "CHECKS",
    "OPERATORS",
    "OPERATOR_MESSAGE",
    "RANKERS",
    "REASONS",
    "AppContext",
    "Constraint",
    "KillCandidate",
    "KillSelection",
    "OfferSlot",
    "OfferView",
    "PlacedIndex",
    "PlacedInstance",
    "Placement",
    "PlacementOptions",
    "PlacementRequest",
    "PlacementResult",
    "PortPool",
    "RejectReason",
    "Rejection",
    "RoundScale",
    "Selection",
    "Unavailability",
    "Unplaced",
    "assign_ports",
    "attribute_text",
    "check_constraint",
    "check_offer",
    "condition_rank",
    "constraint_problems",
    "constraint_rejection",
    "field_value",
    "first_rejection",
    "place",
    "port_pool",
    "ports_problem",
    "sample_limit",
    "scale_down_victims",
    "score",
    "select",
    "take_scalars",
]
