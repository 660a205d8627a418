"""What placement is asked: one app's needs, the instances it already has, the round's policy.

The caller derives a `PlacementRequest` from an app definition (the app model is not known
here, on purpose: placement must not care how apps are stored or versioned).

>>> req = PlacementRequest.of("/web", cpus=0.5, mem=64, host_ports=(0,),
...                           constraints=(("hostname", "UNIQUE", None),))
>>> req.roles(), req.host_ports
(('*',), (0,))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from berth.core.attributes import Attribute
from berth.core.resources import UNRESERVED, Resources
from berth.marathon.placement.constraints import (
    Constraint,
    RawConstraint,
    compile_constraints,
    constraint_problems,
)

MAX_PORT = 65535


@dataclass(frozen=True, slots=True)
class PlacementRequest:
    """What one instance of an app needs; a round asks for ``count`` of them.

    ``accepted_roles`` is Marathon's ``acceptedResourceRoles``: resources reserved to a role
    outside it are invisible to this app. None means the default, ``*`` plus the app's role
    when that is not ``*`` (see `roles`).

    ``host_ports`` has one entry per port that needs a host port: 0 takes any free port of
    the offer, anything else exactly that port. ``require_ports`` says these come from host
    networking with ``requirePorts`` (then every entry is fixed; the caller has already
    turned ``port: 0`` into the service port Marathon assigned).

    Construction checks the invariants a validated app always satisfies and raises
    `ValueError` otherwise: a bad request here is a bug in the caller, not user input.
    """

    app_id: str
    cpus: float
    mem: float
    disk: float
    gpus: float
    role: str
    accepted_roles: tuple[str, ...] | None
    constraints: tuple[RawConstraint, ...]
    host_ports: tuple[int, ...]
    require_ports: bool

    def __post_init__(self) -> None:
        for name in ("cpus", "mem", "disk", "gpus"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{self.app_id}: {name} must be a finite quantity >= 0")
        for port in self.host_ports:
            if not 0 <= port <= MAX_PORT:
                raise ValueError(f"{self.app_id}: host port {port} out of range 0-{MAX_PORT}")
        if self.require_ports and 0 in self.host_ports:
            raise ValueError(f"{self.app_id}: requirePorts needs fixed host ports, got 0")
        if self.accepted_roles is not None and not self.accepted_roles:
            raise ValueError(f"{self.app_id}: acceptedResourceRoles must not be empty")
        problems = constraint_problems(self.constraints)
        if problems:
            index, message = problems[0]
            raise ValueError(f"{self.app_id}: constraints[{index}]: {message}")

    @classmethod
    def of(
        cls,
        app_id: str,
        *,
        cpus: float = 1.0,
        mem: float = 128.0,
        disk: float = 0.0,
        gpus: float = 0.0,
        role: str = UNRESERVED,
        accepted_roles: tuple[str, ...] | None = None,
        constraints: tuple[RawConstraint, ...] = (),
        host_ports: tuple[int, ...] = (),
        require_ports: bool = False,
    ) -> PlacementRequest:
        """Keyword constructor with Marathon's defaults (cpus 1, mem 128)."""
        return cls(
            app_id,
            cpus,
            mem,
            disk,
            gpus,
            role,
            accepted_roles,
            constraints,
            host_ports,
            require_ports,
        )

    def roles(self) -> tuple[str, ...]:
        """The reservation roles this app may use, in the order they are consumed.

        Reserved roles come first: resources reserved to the app's role can serve nobody
        else, so using them before shared ones leaves more for everyone.

        >>> PlacementRequest.of("/a", role="eng").roles()
        ('eng', '*')
        """
        accepted = self.accepted_roles
        if accepted is None:
            accepted = (UNRESERVED,) if self.role == UNRESERVED else (UNRESERVED, self.role)
        ordered = [r for r in accepted if r != UNRESERVED]
        if UNRESERVED in accepted:
            ordered.append(UNRESERVED)
        return tuple(dict.fromkeys(ordered))

    def needs(self) -> Resources:
        """The scalars one instance takes (unreserved form; roles are decided per offer)."""
        return Resources.of(cpus=self.cpus, mem=self.mem, disk=self.disk, gpus=self.gpus)

    def compiled_constraints(self) -> tuple[Constraint, ...]:
        return compile_constraints(self.constraints)


@dataclass(frozen=True, slots=True)
class PlacedInstance:
    """An instance of an app already running or placed: what constraints and spreading see."""

    instance_id: str
    agent_id: str
    hostname: str
    attributes: tuple[Attribute, ...] = ()
    region: str | None = None
    zone: str | None = None


Strategy = Literal["spread", "binpack"]
GpuBehavior = Literal["undefined", "restricted", "unrestricted"]


@dataclass(frozen=True, slots=True)
class PlacementOptions:
    """Policy for one round, the same for every app in it.

    * ``strategy``: ``spread`` (default) ranks agents with fewer instances of the app and
      more free resources higher; ``binpack`` fills the fullest offers first.
    * ``gpu_scheduling_behavior``: Marathon's flag. ``restricted`` keeps apps that need no
      GPU off agents offering GPUs (reason ``DeclinedScarceResources``).
    * ``now`` (seconds since the epoch) turns on the maintenance check: offers whose agent
      is unavailable at ``now``, or within ``draining_seconds`` of it, are refused
      (``AgentMaintenance``). None leaves it off; placement never reads the clock itself.
    """

    strategy: Strategy = "spread"
    gpu_scheduling_behavior: GpuBehavior = "undefined"
    now: float | None = None
    draining_seconds: float = 0.0
