"""Feasibility: can one more instance of an app go on this offer, and if not, why not.

Each check looks at one concern and answers None (yes) or a detail string (no). They run
in the order of Marathon's reject funnel (`REASONS`), and the first "no" decides the
offer's reason: that is how Marathon's ``rejectSummaryLastOffers`` counts, where each
offer declined is charged to the first stage of the funnel that declined it. The order is
also roughly cheapest-first, except that constraints come before resources because the
funnel says so.

The round keeps two mutable views while it places (Nomad's "proposed" overlay):
`OfferSlot` (an offer and what is left of it) and `AppContext` (an app's request and the
instances it has, including those placed earlier in the same round). Checks read them and
never change them.

>>> from berth.core.resources import Resources
>>> offer = OfferView("O1", "S1", "host-a", Resources.of(cpus=0.2, mem=512))
>>> r = check_offer(PlacementRequest.of("/web", cpus=0.5, mem=64), offer)
>>> str(r.reason), r.detail
('InsufficientCpus', 'insufficient cpus: 0.5 needed, 0.2 offered')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from berth.core.resources import Resources
from berth.marathon.placement.constraints import (
    Constraint,
    PlacedIndex,
    check_value,
    field_value,
    format_number,
)
from berth.marathon.placement.offers import OfferView
from berth.marathon.placement.ports import PortPool, port_pool, ports_problem
from berth.marathon.placement.request import PlacedInstance, PlacementOptions, PlacementRequest


class RejectReason(StrEnum):
    """Marathon's NoOfferMatchReason names, in funnel order (as /v2/queue lists them)."""

    UNFULFILLED_ROLE = "UnfulfilledRole"
    UNFULFILLED_CONSTRAINT = "UnfulfilledConstraint"
    NO_CORRESPONDING_RESERVATION_FOUND = "NoCorrespondingReservationFound"
    AGENT_MAINTENANCE = "AgentMaintenance"
    INSUFFICIENT_CPUS = "InsufficientCpus"
    INSUFFICIENT_MEMORY = "InsufficientMemory"
    INSUFFICIENT_DISK = "InsufficientDisk"
    INSUFFICIENT_GPUS = "InsufficientGpus"
    INSUFFICIENT_PORTS = "InsufficientPorts"
    DECLINED_SCARCE_RESOURCES = "DeclinedScarceResources"


# The funnel, in order. NoCorrespondingReservationFound is for resident apps (persistent
# volumes), which Berth does not place yet; it is listed so summaries have Marathon's shape.
REASONS: tuple[RejectReason, ...] = tuple(RejectReason)

_SCALARS = (
    ("cpus", RejectReason.INSUFFICIENT_CPUS),
    ("mem", RejectReason.INSUFFICIENT_MEMORY),
    ("disk", RejectReason.INSUFFICIENT_DISK),
    ("gpus", RejectReason.INSUFFICIENT_GPUS),
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one offer was refused for one app: a funnel reason and a sentence for people."""

    offer_id: str
    agent_id: str
    hostname: str
    reason: RejectReason
    detail: str


# --------------------------------------------------------------------------- the overlay


@dataclass(frozen=True, slots=True)
class Usable:
    """What is left of an offer in some reservation roles, in the forms checks need."""

    resources: Resources
    milli: dict[str, int]  # scalars summed over those roles, milli-units
    ports: PortPool


@dataclass(slots=True)
class OfferSlot:
    """An offer and what is still free in it this round. `take` is the only mutation.

    Caches what many checks ask again and again: constraint field values (fixed for the
    offer) and the usable resources per role set (until the next `take`).
    """

    offer: OfferView
    remaining: Resources
    offered_roles: frozenset[str]
    _usable: dict[tuple[str, ...], Usable] = field(default_factory=dict)
    _values: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def of(cls, offer: OfferView, remaining: Resources | None = None) -> OfferSlot:
        left = offer.resources if remaining is None else remaining
        return cls(offer, left, offer.resources.roles())

    def usable(self, roles: tuple[str, ...]) -> Usable:
        """What is left in reservation roles ``roles``, and its free ports."""
        cached = self._usable.get(roles)
        if cached is None:
            resources = Resources.empty()
            for role in roles:
                resources = resources + self.remaining.reserved(role)
            cached = Usable(resources, resources.milli_scalars(), port_pool(resources, roles))
            self._usable[roles] = cached
        return cached

    def value(self, name: str) -> str | None:
        """``field_value(name, offer)``, cached."""
        try:
            return self._values[name]
        except KeyError:
            value = self._values[name] = field_value(name, self.offer)
            return value

    def take(self, resources: Resources) -> None:
        assert self.remaining.contains(resources), "taking more than the offer holds"
        self.remaining = self.remaining - resources
        self._usable.clear()


@dataclass(slots=True)
class AppContext:
    """One app during a round: its request, compiled once, and where its instances are."""

    request: PlacementRequest
    constraints: tuple[Constraint, ...]
    group_by: tuple[Constraint, ...]
    roles: tuple[str, ...]
    needs: dict[str, int]  # scalar name -> milli-units for one instance
    index: PlacedIndex  # instances per constraint-field value
    per_agent: Counter[str]  # instances per agent id

    @classmethod
    def of(cls, request: PlacementRequest, placed: Iterable[PlacedInstance] = ()) -> AppContext:
        constraints = request.compiled_constraints()
        ctx = cls(
            request=request,
            constraints=constraints,
            group_by=tuple(c for c in constraints if c.operator == "GROUP_BY"),
            roles=request.roles(),
            needs=request.needs().milli_scalars(),
            index=PlacedIndex.of({c.field for c in constraints}),
            per_agent=Counter(),
        )
        for instance in placed:
            ctx.add(instance)
        return ctx

    def add(self, instance: PlacedInstance) -> None:
        """Count one more instance (placed before the round, or earlier in it)."""
        self.index.add(instance)
        self.per_agent[instance.agent_id] += 1


# --------------------------------------------------------------------------- the checks

Check = Callable[[AppContext, OfferSlot, PlacementOptions], str | None]


def _allocation_role(app: AppContext, slot: OfferSlot, options: PlacementOptions) -> str | None:
    # An offer allocated to role R is R's share of the cluster; an app of another role
    # launching on it would be charged to R (Marathon 1.9+ matches the two).
    role = slot.offer.role
    if role is None or role == app.request.role:
        return None
    return f"offer is for role {role!r}, the app's role is {app.request.role!r}"


def _accepted_roles(app: AppContext, slot: OfferSlot, options: PlacementOptions) -> str | None:
    # Judged on the whole offer, not on what this round left of it: running out of
    # accepted resources is an Insufficient* matter, not a role mismatch.
    offered = slot.offered_roles
    if not offered or not offered.isdisjoint(app.roles):
        return None
    shown = ", ".join(repr(r) for r in sorted(offered))
    accepted = ",".join(app.request.accepted_roles or app.roles)
    noun = "role" if len(offered) == 1 else "roles"
    return f"{noun} {shown} not accepted (acceptedResourceRoles: {accepted})"


def _constraints(app: AppContext, slot: OfferSlot, options: PlacementOptions) -> str | None:
    for c in app.constraints:
        problem = check_value(c, slot.value(c.field), slot.offer, app.index)
        if problem is not None:
            return problem
    return None


def _maintenance(app: AppContext, slot: OfferSlot, options: PlacementOptions) -> str | None:
    window = slot.offer.unavailability
    if (
        options.now is None
        or window is None
        or not window.covers(options.now, options.draining_seconds)
    ):
        return None
    until = "" if window.duration is None else f" for {format_number(window.duration)}s"
    return f"agent is under maintenance from {format_number(window.start)}{until}"


def _scalar_check(name: str) -> Check:
    def check(app: AppContext, slot: OfferSlot, options: PlacementOptions) -> str | None:
        need = app.needs.get(name, 0)
        if not need:
            return None
        have = slot.usable(app.roles).milli.get(name, 0)
        if have >= need:
            return None
        needed, offered = format_number(need / 1000), format_number(have / 1000)
        return f"insufficient {name}: {needed} needed, {offered} offered"

    check.__name__ = f"_{name}"
    return check


def _ports(app: AppContext, slot: OfferSlot, options: PlacementOptions) -> str | None:
    if not app.request.host_ports:
        return None
    pool = slot.usable(app.roles).ports
    return ports_problem(app.request.host_ports, pool, require_ports=app.request.require_ports)


def _scarce(app: AppContext, slot: OfferSlot, options: PlacementOptions) -> str | None:
    # GPUs are scarce: with the "restricted" behaviour, apps that need none stay off GPU
    # agents so GPU apps still find room there.
    if options.gpu_scheduling_behavior != "restricted" or app.request.gpus > 0:
        return None
    gpus = slot.offer.resources.scalar_value("gpus")  # the agent's kind, not what is left
    if not gpus:
        return None
    return (
        f"agent offers {format_number(gpus)} gpus and the app needs none "
        "(gpu_scheduling_behavior: restricted)"
    )


# One row per concern, in funnel order; the first "no" is the offer's reason.
CHECKS: tuple[tuple[RejectReason, Check], ...] = (
    (RejectReason.UNFULFILLED_ROLE, _allocation_role),
    (RejectReason.UNFULFILLED_ROLE, _accepted_roles),
    (RejectReason.UNFULFILLED_CONSTRAINT, _constraints),
    (RejectReason.AGENT_MAINTENANCE, _maintenance),
    *((reason, _scalar_check(name)) for name, reason in _SCALARS),
    (RejectReason.INSUFFICIENT_PORTS, _ports),
    (RejectReason.DECLINED_SCARCE_RESOURCES, _scarce),
)


def first_rejection(
    app: AppContext, slot: OfferSlot, options: PlacementOptions
) -> Rejection | None:
    """Run `CHECKS` in order; the first refusal, or None when the offer can take one more."""
    for reason, check in CHECKS:
        detail = check(app, slot, options)
        if detail is not None:
            offer = slot.offer
            return Rejection(offer.id, offer.agent_id, offer.hostname, reason, detail)
    return None


def check_offer(
    request: PlacementRequest,
    offer: OfferView,
    placed: Iterable[PlacedInstance] = (),
    *,
    remaining: Resources | None = None,
    options: PlacementOptions | None = None,
) -> Rejection | None:
    """One-shot feasibility: could one more instance of ``request`` go on ``offer``, given
    the app's ``placed`` instances and what is ``remaining`` of the offer (default: all)?

    >>> from berth.core.resources import Resources
    >>> offer = OfferView("O1", "S1", "host-a", Resources.of(cpus=1, mem=512))
    >>> req = PlacementRequest.of("/web", cpus=0.5, constraints=(("hostname", "UNIQUE", None),))
    >>> check_offer(req, offer) is None
    True
    >>> check_offer(req, offer, [PlacedInstance("web.1", "S1", "host-a")]).detail
    'constraint hostname UNIQUE: an instance already runs on host-a'
    """
    return first_rejection(
        AppContext.of(request, placed),
        OfferSlot.of(offer, remaining),
        options or PlacementOptions(),
    )
