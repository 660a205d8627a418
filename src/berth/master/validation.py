"""Validation of LAUNCH operations against the offers they use (pure).

Mesos validates an ACCEPT in two layers. A call that cannot be converted (a required field
missing, wrong types) is a 400 for the whole call: ``scheduler_api`` checks that. A
well-formed call whose offers are bad loses all its tasks (``TASK_LOST``,
``REASON_INVALID_OFFERS``); a well-formed task that is wrong on its own gets ``TASK_ERROR``
(``REASON_TASK_INVALID``) while the rest of the call continues. This module decides the
last two.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from berth.core.errors import InvalidInput
from berth.core.jsonutil import JSON, id_value
from berth.core.resources import Resources
from berth.master.registry import Offer

MAX_TASK_ID_LENGTH = 255  # bytes of UTF-8


@dataclass(frozen=True, slots=True)
class Launchable:
    task_id: str
    info: JSON  # TaskInfo with resources stamped with the allocation role
    resources: Resources


@dataclass(frozen=True, slots=True)
class Rejected:
    task_id: str
    message: str


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    launch: tuple[Launchable, ...]
    rejected: tuple[Rejected, ...]
    leftover: Resources  # what the offers still hold after the launches; declined


def task_id_problem(task_id: str) -> str | None:
    """Why ``task_id`` cannot name a task, or None.

    >>> task_id_problem("web.1") is None, task_id_problem("a/b")
    (True, "Task ID 'a/b' must not contain '/'")
    """
    if not task_id:
        return "Task ID must not be empty"
    # Counted in UTF-8 bytes, as Mesos does: the id names the sandbox directory, and file
    # systems cap a name at 255 bytes (NAME_MAX), not 255 characters.
    size = len(task_id.encode("utf-8", "surrogatepass"))
    if size > MAX_TASK_ID_LENGTH:
        return f"Task ID is {size} bytes long in UTF-8; at most {MAX_TASK_ID_LENGTH} are allowed"
    if task_id in (".", ".."):
        return f"Task ID '{task_id}' is not allowed"
    for bad in ("/", "\\"):
        if bad in task_id:
            return f"Task ID '{task_id}' must not contain '{bad}'"
    if any(ord(c) < 32 or ord(c) == 127 for c in task_id):
        return f"Task ID {task_id!r} must not contain control characters"
    return None


def offers_problem(
    offer_ids: list[str], framework_id: str, outstanding: Mapping[str, Offer]
) -> str | None:
    """Why this set of offers cannot be used together by ``framework_id``, or None."""
    if not offer_ids:
        return "No offers specified"
    if len(set(offer_ids)) != len(offer_ids):
        return "Duplicate offers in ACCEPT"
    agents: set[str] = set()
    roles: set[str] = set()
    for offer_id in offer_ids:
        offer = outstanding.get(offer_id)
        if offer is None:
            return f"Offer {offer_id} is no longer valid"
        if offer.framework_id != framework_id:
            return f"Offer {offer_id} was not made to framework {framework_id}"
        agents.add(offer.agent_id)
        roles.add(offer.role)
    if len(agents) > 1:
        return "Aggregated offers must belong to one agent"
    if len(roles) > 1:
        return "Aggregated offers must be allocated to one role"
    return None


def _scalar(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _nanoseconds_problem(obj: Any, what: str) -> str | None:
    if obj is None:
        return None
    ns = obj.get("nanoseconds") if isinstance(obj, dict) else None
    value = _scalar(ns)
    if value is None or math.isnan(value):
        return f"{what} must be an object with integer 'nanoseconds'"
    if value < 0:
        return f"{what} must not be negative"
    return None


def _allocation_role_problem(raw: Any, role: str) -> str | None:
    """Resources that already carry an allocation role must carry the offers' one.

    Mesos stamps the offers' allocation role only on resources without one; a resource
    allocated to another role then does not fit in the offers, so the task fails.
    """
    for i, entry in enumerate(raw if isinstance(raw, list) else []):
        alloc = entry.get("allocation_info") if isinstance(entry, dict) else None
        if alloc is None:
            continue
        alloc_role = alloc.get("role") if isinstance(alloc, dict) else None
        if alloc_role is not None and alloc_role != role:
            return (
                f"resources[{i}] is allocated to role {alloc_role!r} "
                f"but the offers are allocated to {role!r}"
            )
    return None


def _task_problem(
    info: JSON, *, agent_id: str, role: str, taken: Collection[str], resources: Resources
) -> str | None:
    task_id = id_value(info.get("task_id")) or ""
    problem = task_id_problem(task_id)
    if problem:
        return problem
    if task_id in taken:
        return f"Task ID '{task_id}' is already in use"
    if id_value(info.get("agent_id")) != agent_id:
        return f"Task uses agent {id_value(info.get('agent_id'))} but the offers are on {agent_id}"
    has_command = isinstance(info.get("command"), dict)
    has_executor = isinstance(info.get("executor"), dict)
    if has_command == has_executor:
        return "Task must set exactly one of 'command' and 'executor'"
    if has_executor:
        return "Custom executors are not supported by Berth agents; use 'command'"
    if resources.is_empty():
        return "Task uses no resources"
    problem = _allocation_role_problem(info.get("resources"), role)
    if problem:
        return problem
    kill_policy = info.get("kill_policy")
    if kill_policy is not None:
        if not isinstance(kill_policy, dict):
            return "kill_policy must be an object"
        problem = _nanoseconds_problem(kill_policy.get("grace_period"), "kill_policy.grace_period")
        if problem:
            return problem
    problem = _nanoseconds_problem(info.get("max_completion_time"), "max_completion_time")
    if problem:
        return problem
    limits = info.get("limits")
    if limits is not None:
        if not isinstance(limits, dict):
            return "limits must be an object"
        for name, value in limits.items():
            if name not in ("cpus", "mem"):
                return f"limits may only name 'cpus' and 'mem', not '{name}'"
            limit = _scalar(value)
            if limit is None or math.isnan(limit):
                return f"limits.{name} must be a number"
            if limit < resources.scalar_value(name):
                return f"limits.{name} ({limit:g}) is below the task's request"
    health = info.get("health_check")
    if health is not None:
        from berth.agent.health_checks import parse_health_check

        try:
            parse_health_check(health, path="health_check")
        except InvalidInput as e:
            return f"Invalid health check: {e}"
    return None


def plan_launches(
    task_infos: Iterable[JSON],
    *,
    agent_id: str,
    role: str,
    offered: Resources,
    taken_task_ids: Collection[str],
) -> LaunchPlan:
    """Decide which tasks of one ACCEPT launch, in order, out of ``offered``.

    Each task's resources must fit in what earlier tasks left. Task resources may omit
    their role; they are stamped with the allocation role of the offers.
    """
    launch: list[Launchable] = []
    rejected: list[Rejected] = []
    taken = set(taken_task_ids)
    left = offered
    for info in task_infos:
        task_id = id_value(info.get("task_id")) or ""
        try:
            resources = Resources.from_mesos(info.get("resources", []), path="resources")
        except InvalidInput as e:
            rejected.append(Rejected(task_id, f"Invalid resources: {e}"))
            continue
        problem = _task_problem(
            info, agent_id=agent_id, role=role, taken=taken, resources=resources
        )
        if problem is None and not left.contains(resources):
            problem = (
                f"Task uses more resources {resources.summary()} than available {left.summary()}"
            )
        if problem is not None:
            rejected.append(Rejected(task_id, problem))
            continue
        stamped = copy.deepcopy(info)
        stamped["resources"] = resources.to_mesos(allocation_role=role)
        launch.append(Launchable(task_id, stamped, resources))
        taken.add(task_id)
        left = left - resources
    return LaunchPlan(tuple(launch), tuple(rejected), left)
