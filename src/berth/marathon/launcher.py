"""Matching offers to the instances waiting to launch (pure).

One round: the instances that wait (their backoff over), the offers at hand, and where
the app's instances already run -> which instance launches on which offer, with which
TaskInfo, which offers go unused, and why what could not be placed was not. The
orchestrator persists the new incarnations, then accepts and declines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from berth.core.jsonutil import JSON
from berth.marathon.instances import Instance
from berth.marathon.models.app import AppDefinition
from berth.marathon.placement import (
    OfferView,
    PlacedInstance,
    PlacementRequest,
    Unplaced,
    place,
)
from berth.marathon.taskinfo import task_info


@dataclass(frozen=True, slots=True)
class Launch:
    instance: Instance  # with its new incarnation
    offer_id: str
    task: JSON


@dataclass(frozen=True, slots=True)
class Round:
    launches: tuple[Launch, ...]
    unused_offers: tuple[str, ...]
    unplaced: Mapping[str, Unplaced]
    apps: tuple[str, ...]  # apps that asked for offers in this round


def placement_request(app: AppDefinition) -> PlacementRequest:
    """What one instance of ``app`` needs from an offer."""
    if app.is_host_networking:
        host_ports = tuple(p.port if app.require_ports else 0 for p in app.port_definitions)
    else:
        host_ports = tuple(m.host_port for m in app.port_mappings if m.host_port is not None)
    return PlacementRequest(
        app_id=str(app.id),
        cpus=app.cpus,
        mem=app.mem,
        disk=app.disk,
        gpus=float(app.gpus),
        role=app.role,
        accepted_roles=app.accepted_resource_roles,
        constraints=tuple((c.field, c.operator, c.value) for c in app.constraints),
        host_ports=host_ports,
        require_ports=app.require_ports and app.is_host_networking,
    )


def match_offers(
    ready: Sequence[Instance],
    offers: Sequence[OfferView],
    *,
    definition: Callable[[str, str], AppDefinition | None],
    placed: Callable[[str], Sequence[PlacedInstance]],
    now: float,
    seed: int,
) -> Round:
    """One launch round. ``definition(app_id, version)`` gives the app an instance runs;
    ``placed(app_id)`` where the app's instances already are.

    An app launches instances of one version per round (a rolling restart can have new
    instances and relaunches of old ones waiting): the newest first.
    """
    waiting: dict[str, list[Instance]] = {}
    for instance in sorted(ready, key=lambda i: (i.version, -i.scheduled_at), reverse=True):
        group = waiting.setdefault(instance.app_id, [])
        if not group or group[0].version == instance.version:
            group.append(instance)
    apps: dict[str, AppDefinition] = {}
    requests: list[tuple[PlacementRequest, int]] = []
    for app_id, group in waiting.items():
        app = definition(app_id, group[0].version)
        if app is None:
            continue
        apps[app_id] = app
        requests.append((placement_request(app), len(group)))
    result = place(requests, offers, {a: placed(a) for a in apps}, seed=seed)
    roles = {o.id: o.role or "*" for o in offers}
    launches: list[Launch] = []
    for placement in result.placements:
        instance = waiting[placement.app_id].pop(0)
        role = roles.get(placement.offer_id, "*")
        launched = instance.launched(
            agent_id=placement.agent_id,
            hostname=placement.hostname,
            host_ports=tuple(placement.host_ports),
            version=instance.version,
            now=now,
            role=role,
        )
        task = task_info(
            apps[placement.app_id],
            task_id=launched.task_id,
            agent_id=placement.agent_id,
            hostname=placement.hostname,
            host_ports=placement.host_ports,
            resources=placement.resources,
            role=role,
        )
        launches.append(Launch(launched, placement.offer_id, task))
    return Round(
        launches=tuple(launches),
        unused_offers=tuple(result.unused_offers()),
        unplaced=dict(result.unplaced),
        apps=tuple(apps),
    )
