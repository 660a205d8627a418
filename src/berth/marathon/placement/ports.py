"""Host ports: does an offer have the ones an instance needs, and which does it get.

An instance asks for a tuple of host ports, 0 meaning "any". Fixed ports must be free in
the offer's ``ports`` ranges (of an accepted role). Dynamic ones are drawn at random from
what is left, reserved roles first like the scalars, so that a port just given up by a
dead task is not handed straight to the next one while clients may still talk to the old
address (Marathon draws at random too). The draw is seeded by the caller, so the whole
round stays deterministic.

>>> pool = port_pool(Resources.of(ports=[(31000, 31004)]), ("*",))
>>> ports_problem((31002, 0), pool, require_ports=False) is None
True
>>> ports_problem((8080,), pool, require_ports=True)
'no free host port 8080 (requirePorts)'
>>> chosen, taken = assign_ports((31002, 0), pool, random.Random(1))
>>> chosen[0], taken.port_count()
(31002, 2)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from berth.core.resources import RangeSet, Resources

PORTS = "ports"


@dataclass(frozen=True, slots=True)
class PortPool:
    """Free ports of an offer by reservation role, in the order roles are preferred.

    The roles' ranges are disjoint: a port listed under two roles counts for the first.
    """

    by_role: tuple[tuple[str, RangeSet], ...]

    def total(self) -> int:
        return sum(e - b + 1 for _, rs in self.by_role for b, e in rs)

    def role_of(self, port: int) -> str | None:
        for role, ranges in self.by_role:
            for begin, end in ranges:
                if begin <= port <= end:
                    return role
                if begin > port:
                    break
        return None


def port_pool(resources: Resources, roles: Sequence[str]) -> PortPool:
    """The free ports of ``resources`` usable by an app accepting ``roles``."""
    out: list[tuple[str, RangeSet]] = []
    seen = Resources.empty()
    for role in roles:
        mine = resources.reserved(role).ranges_of(PORTS)
        if not mine:
            continue
        # Keep the pools disjoint, so counting and drawing never see a port twice.
        left = (Resources.ranges(PORTS, mine) - seen).ranges_of(PORTS)
        if left:
            out.append((role, left))
            seen = seen + Resources.ranges(PORTS, left)
    return PortPool(tuple(out))


def ports_problem(host_ports: Sequence[int], pool: PortPool, *, require_ports: bool) -> str | None:
    """None when ``pool`` can serve ``host_ports``; else why not, for the reject summary."""
    if not host_ports:
        return None
    suffix = " (requirePorts)" if require_ports else ""
    fixed = sorted({p for p in host_ports if p})
    for port in fixed:
        if pool.role_of(port) is None:
            return f"no free host port {port}{suffix}"
    dynamic = sum(1 for p in host_ports if not p)
    if dynamic:
        free = pool.total() - len(fixed)
        if free < dynamic:
            needed = len(fixed) + dynamic
            return (
                f"{needed} host port{'' if needed == 1 else 's'} needed, "
                f"{free + len(fixed)} offered"
            )
    return None


def assign_ports(
    host_ports: Sequence[int], pool: PortPool, rng: random.Random
) -> tuple[tuple[int, ...], Resources]:
    """Pick concrete ports: ``(ports in request order, the ports resource to launch with)``.

    The resource carries each port's reservation role. Only call after `ports_problem`
    said yes; a shortfall here is a bug (AssertionError).
    """
    fixed = {p for p in host_ports if p}
    dynamic = sum(1 for p in host_ports if not p)
    drawn = iter(_draw(pool, fixed, dynamic, rng))
    chosen = tuple(p if p else next(drawn) for p in host_ports)
    taken = Resources.empty()
    for port in sorted(set(chosen)):
        role = pool.role_of(port)
        assert role is not None, f"port {port} is not in the pool"
        taken = taken + Resources.ranges(PORTS, [(port, port)], role)
    return chosen, taken


def _draw(pool: PortPool, exclude: set[int], count: int, rng: random.Random) -> list[int]:
    """``count`` distinct ports from ``pool`` minus ``exclude``, ascending.

    Role by role in the pool's order (reserved before unreserved, like the scalars), and
    uniformly at random within a role.
    """
    picked: set[int] = set()
    for _, ranges in pool.by_role:
        if len(picked) == count:
            break
        free = sum(e - b + 1 for b, e in ranges) - sum(1 for p in exclude if _within(ranges, p))
        want = min(count - len(picked), free)
        # Index the role's ports 0..total-1 and skip excluded ones by rejection: `exclude`
        # is a handful of fixed ports, so retries are rare. randrange, not
        # sample(range(total)): ranges may reach 2**64, beyond what sample takes.
        total = sum(e - b + 1 for b, e in ranges)
        mine: set[int] = set()
        while len(mine) < want:
            port = _nth(ranges, rng.randrange(total))
            if port not in exclude:
                mine.add(port)
        picked |= mine
    assert len(picked) == count, "not enough free ports; check ports_problem first"
    return sorted(picked)


def _within(ranges: RangeSet, port: int) -> bool:
    return any(b <= port <= e for b, e in ranges)


def _nth(ranges: RangeSet, index: int) -> int:
    for begin, end in ranges:
        size = end - begin + 1
        if index < size:
            return begin + index
        index -= size
    raise AssertionError("index beyond the pool")
