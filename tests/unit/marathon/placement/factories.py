"""Factories for placement tests: valid offers and requests that tests tweak."""

from __future__ import annotations

from berth.core.attributes import parse_attributes
from berth.core.resources import Resources
from berth.marathon.placement import OfferView, PlacedInstance, PlacementRequest
from berth.marathon.placement.constraints import RawConstraint


def make_offer(
    host: str,
    resources: str = "cpus:4;mem:4096;ports:[31000-31009]",
    attributes: str = "",
    *,
    role: str | None = "*",
    region: str | None = None,
    zone: str | None = None,
) -> OfferView:
    """An offer from agent ``S-<host>``, id ``O-<host>``; resources in ``--resources`` text."""
    return OfferView(
        id=f"O-{host}",
        agent_id=f"S-{host}",
        hostname=host,
        resources=Resources.parse_text(resources),
        attributes=parse_attributes(attributes),
        role=role,
        region=region,
        zone=zone,
    )


def make_request(
    app_id: str = "/web",
    *,
    cpus: float = 0.5,
    mem: float = 128,
    disk: float = 0,
    gpus: float = 0,
    role: str = "*",
    accepted_roles: tuple[str, ...] | None = None,
    constraints: tuple[RawConstraint, ...] = (),
    host_ports: tuple[int, ...] = (),
    require_ports: bool = False,
) -> PlacementRequest:
    return PlacementRequest(
        app_id, cpus, mem, disk, gpus, role, accepted_roles, constraints, host_ports, require_ports
    )


def on(offer: OfferView, instance_id: str) -> PlacedInstance:
    """An instance already running where ``offer``'s agent is."""
    return PlacedInstance(
        instance_id, offer.agent_id, offer.hostname, offer.attributes, offer.region, offer.zone
    )
