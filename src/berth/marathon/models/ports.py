"""Service ports: the app-level ports load balancers listen on (reference 2.3 step 8, 3.8).

A service port of 0 means "assign one". Marathon assigns them when the deployment is
computed, from ``[10000, 20000)`` by default, unique across the cluster; ports users chose
themselves are kept as they are (even when another app uses them too). Berth also keeps
the ports an app already had: re-deploying a definition that still says 0 gives the same
ports back, so an unchanged definition is still unchanged (and restarts nothing).
"""

from __future__ import annotations

import builtins
from dataclasses import replace

from berth.marathon.models.app import AppDefinition
from berth.marathon.models.errors import MarathonValidationError, Violation
from berth.marathon.models.group import Group


def with_service_ports(app: AppDefinition, ports: tuple[int, ...]) -> AppDefinition:
    """``app`` with its service ports (in port-index order) replaced by ``ports``."""
    if len(ports) != len(app.service_ports):
        raise ValueError(f"{app.id} has {len(app.service_ports)} ports, got {len(ports)}")
    if app.is_host_networking:
        definitions = tuple(
            replace(d, port=p) for d, p in zip(app.port_definitions, ports, strict=True)
        )
        return replace(app, port_definitions=definitions)
    assert app.container is not None  # non-host apps with ports always have a container
    mappings = tuple(
        replace(m, service_port=p) for m, p in zip(app.container.port_mappings, ports, strict=True)
    )
    return replace(app, container=replace(app.container, port_mappings=mappings))


def assign_service_ports(
    root: Group, app: AppDefinition, range: tuple[int, int] = (10000, 20000)
) -> AppDefinition:
    """``app`` with every 0 service port replaced by a free one from ``range`` (half-open).

    Free means used by no other app in ``root`` and by no other port of ``app``. A 0 at an
    index where the app's current version (``root.app(app.id)``) has an assigned port gets
    that port back when it is still free; the others get the lowest free ports. Raises
    ``MarathonValidationError`` when the range is exhausted.

    >>> from berth.marathon.models.pathid import ROOT, PathId
    >>> web = AppDefinition(id=PathId.parse("/web"))
    >>> root = Group(ROOT).with_app(assign_service_ports(Group(ROOT), web))
    >>> assign_service_ports(root, AppDefinition(id=PathId.parse("/api"))).service_ports
    (10001,)
    """
    low, high = range
    wanted = app.service_ports
    if 0 not in wanted:
        return app
    used = {
        port
        for other in root.transitive_apps()
        if other.id != app.id
        for port in other.service_ports
    }
    used.update(wanted)
    used.discard(0)
    current = root.app(app.id)
    previous = current.service_ports if current is not None else ()
    ports = list(wanted)
    # First pass: give back the ports this app already had, so nothing moves needlessly.
    for i, port in enumerate(wanted):
        if port == 0 and i < len(previous):
            old = previous[i]
            if low <= old < high and old not in used:
                ports[i] = old
                used.add(old)
    # Second pass: the lowest free ports for the rest.
    candidate = low
    for i in builtins.range(len(ports)):
        if ports[i] != 0:
            continue
        while candidate < high and candidate in used:
            candidate += 1
        if candidate >= high:
            raise MarathonValidationError(
                [
                    Violation(
                        "/",
                        f"no free service port left in [{low}, {high}): set servicePort / "
                        "port explicitly, or free ports by removing apps",
                    )
                ]
            )
        ports[i] = candidate
        used.add(candidate)
    return with_service_ports(app, tuple(ports))
