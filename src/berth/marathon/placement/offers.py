"""An offer as placement sees it: parsed once from Mesos JSON, immutable afterwards.

>>> offer = OfferView.from_mesos({
...     "id": {"value": "O1"}, "agent_id": {"value": "S1"}, "hostname": "node1",
...     "allocation_info": {"role": "*"},
...     "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}}],
...     "attributes": [{"name": "rack", "type": "TEXT", "text": {"value": "r1"}}],
...     "domain": {"fault_domain": {"region": {"name": "eu"}, "zone": {"name": "eu-1"}}}})
>>> offer.id, offer.hostname, str(offer.resources), offer.attributes[0].value, offer.zone
('O1', 'node1', 'cpus:2', 'r1', 'eu-1')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from berth.core.attributes import Attribute, attributes_from_mesos
from berth.core.errors import InvalidInput
from berth.core.jsonutil import id_value
from berth.core.resources import Resources

_NANOS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Unavailability:
    """A maintenance window announced in an offer: from ``start`` for ``duration`` seconds
    (None: open-ended)."""

    start: float
    duration: float | None = None

    def covers(self, now: float, draining_seconds: float = 0.0) -> bool:
        """Whether ``now`` is inside the window, or within ``draining_seconds`` before it.

        >>> Unavailability(100, 50).covers(90), Unavailability(100, 50).covers(90, 10)
        (False, True)
        """
        if now < self.start - draining_seconds:
            return False
        return self.duration is None or now < self.start + self.duration


@dataclass(frozen=True, slots=True)
class OfferView:
    """One offer: what an agent has free for one of our roles, and where that agent is.

    ``role`` is the allocation role (``allocation_info.role``); None when the master did
    not say. ``resources`` keep their reservation roles.
    """

    id: str
    agent_id: str
    hostname: str
    resources: Resources
    attributes: tuple[Attribute, ...] = ()
    role: str | None = None
    region: str | None = None
    zone: str | None = None
    unavailability: Unavailability | None = None

    @classmethod
    def from_mesos(cls, data: object, path: str = "offer") -> OfferView:
        """Parse an Offer (mesos.md a). Raises `InvalidInput` with a JSON path when malformed."""
        if not isinstance(data, Mapping):
            raise InvalidInput("expected an offer object", path=path)
        offer_id = _required_id(data, "id", path)
        agent_id = _required_id(data, "agent_id", path)
        hostname = data.get("hostname")
        if not isinstance(hostname, str) or not hostname:
            raise InvalidInput("expected a non-empty string", path=f"{path}.hostname")
        role: str | None = None
        allocation = data.get("allocation_info")
        if isinstance(allocation, Mapping) and isinstance(allocation.get("role"), str):
            role = allocation["role"]
        region, zone = _domain(data.get("domain"), f"{path}.domain")
        return cls(
            id=offer_id,
            agent_id=agent_id,
            hostname=hostname,
            resources=Resources.from_mesos(data.get("resources") or [], f"{path}.resources"),
            attributes=attributes_from_mesos(data.get("attributes"), f"{path}.attributes"),
            role=role,
            region=region,
            zone=zone,
            unavailability=_unavailability(data.get("unavailability"), f"{path}.unavailability"),
        )


def _required_id(data: Mapping[str, object], key: str, path: str) -> str:
    value = id_value(data.get(key))
    if not value:
        raise InvalidInput('expected {"value": "<id>"}', path=f"{path}.{key}")
    return value


def _name_in(obj: object, key: str, path: str) -> str | None:
    if obj is None:
        return None
    if not isinstance(obj, Mapping):
        raise InvalidInput("expected an object", path=path)
    part = obj.get(key)
    if part is None:
        return None
    name = part.get("name") if isinstance(part, Mapping) else None
    if not isinstance(name, str) or not name:
        raise InvalidInput('expected {"name": "..."}', path=f"{path}.{key}")
    return name


def _domain(obj: object, path: str) -> tuple[str | None, str | None]:
    if obj is None:
        return None, None
    if not isinstance(obj, Mapping):
        raise InvalidInput("expected an object", path=path)
    fault = obj.get("fault_domain")
    fpath = f"{path}.fault_domain"
    return _name_in(fault, "region", fpath), _name_in(fault, "zone", fpath)


def _unavailability(obj: object, path: str) -> Unavailability | None:
    if obj is None:
        return None
    if not isinstance(obj, Mapping):
        raise InvalidInput("expected an object", path=path)
    start = _nanos(obj.get("start"), f"{path}.start")
    if start is None:
        raise InvalidInput("missing start", path=f"{path}.start")
    duration = _nanos(obj.get("duration"), f"{path}.duration")
    return Unavailability(start, duration)


def _nanos(obj: object, path: str) -> float | None:
    """A Mesos TimeInfo / DurationInfo ``{"nanoseconds": n}`` in seconds."""
    if obj is None:
        return None
    value = obj.get("nanoseconds") if isinstance(obj, Mapping) else None
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)  # int64 may arrive as a JSON string
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput('expected {"nanoseconds": <integer>}', path=path)
    return value / _NANOS
