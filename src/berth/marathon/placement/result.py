"""What a placement round decided: placements to launch, what is left, and what could not go.

>>> u = Unplaced("/web", 1, {"UnfulfilledConstraint": 3}, (), processed_offers=3)
>>> u.reject_summary()[:3]  # doctest: +NORMALIZE_WHITESPACE
[{'reason': 'UnfulfilledRole', 'declined': 0, 'processed': 3},
 {'reason': 'UnfulfilledConstraint', 'declined': 3, 'processed': 3},
 {'reason': 'NoCorrespondingReservationFound', 'declined': 0, 'processed': 0}]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from berth.core.attributes import Attribute
from berth.core.resources import Resources
from berth.marathon.placement.feasible import REASONS, Rejection
from berth.marathon.placement.request import PlacedInstance


@dataclass(frozen=True, slots=True)
class Placement:
    """Launch one instance of ``app_id`` on ``offer_id``.

    ``resources`` is exactly what the TaskInfo should carry: the cpus/mem/disk/gpus
    scalars and a ``ports`` range resource for ``host_ports``, each with the reservation
    role it was taken from. ``host_ports`` follows the order of the request's
    ``host_ports`` (PORT0, PORT1, ...).
    """

    app_id: str
    offer_id: str
    agent_id: str
    hostname: str
    host_ports: tuple[int, ...]
    resources: Resources
    attributes: tuple[Attribute, ...] = ()
    region: str | None = None
    zone: str | None = None

    def as_placed(self, instance_id: str) -> PlacedInstance:
        """The instance this becomes, for the next round's ``placed``."""
        return PlacedInstance(
            instance_id, self.agent_id, self.hostname, self.attributes, self.region, self.zone
        )


@dataclass(frozen=True, slots=True)
class Unplaced:
    """``count`` instances of ``app_id`` found no offer this round.

    ``reasons`` counts, per Marathon reason name, the offers refused for it in the last
    attempt (each offer once, charged to the first reason of the funnel); it is empty only
    when the round had no offers at all. ``details`` holds the refusals themselves, one per
    offer, with sentences such as "insufficient cpus: 0.5 needed, 0.2 offered".
    """

    app_id: str
    count: int
    reasons: Mapping[str, int]
    details: tuple[Rejection, ...]
    processed_offers: int = 0

    def reject_summary(self) -> list[dict[str, str | int]]:
        """``rejectSummaryLastOffers`` of /v2/queue: the funnel, every reason in order, with
        how many offers reached that stage (``processed``) and were refused there."""
        out: list[dict[str, str | int]] = []
        processed = self.processed_offers
        for reason in REASONS:
            declined = self.reasons.get(reason.value, 0)
            out.append({"reason": reason.value, "declined": declined, "processed": processed})
            processed -= declined
        return out


@dataclass(frozen=True, slots=True)
class PlacementResult:
    """The round's decisions. Treat the mappings as read-only.

    * ``placements``: every placement, in the order they were made;
    * ``by_app``: the same, per app id, in order;
    * ``used_offers``: ids of offers with at least one placement, in first-use order;
    * ``leftover``: for every offer of the round, what is left of it;
    * ``unplaced``: per app id, the instances that found no offer, and why.
    """

    placements: tuple[Placement, ...]
    by_app: Mapping[str, tuple[Placement, ...]]
    used_offers: tuple[str, ...]
    leftover: Mapping[str, Resources]
    unplaced: Mapping[str, Unplaced]

    def unused_offers(self) -> tuple[str, ...]:
        """Offers nothing was placed on, in round order: the ones to decline."""
        used = set(self.used_offers)
        return tuple(o for o in self.leftover if o not in used)
