"""Factories for the master's registry records: valid by default, tweaked by the tests.

Each ``make_*`` builds one record from ``berth.master.registry`` with everything a real
master would have filled in; keyword arguments override what a test cares about. The
records are not linked to each other: ``attach_task`` and ``attach_offer`` put them where
the master keeps them (framework, agent and, for offers, the master-wide index).

>>> task = make_task("web.1", state=TaskState.RUNNING)
>>> task.key, [s["state"] for s in task.statuses]
(('F1', 'web.1'), ['TASK_STAGING', 'TASK_RUNNING'])
"""

from __future__ import annotations

from typing import Any

from berth.core.attributes import Attribute
from berth.core.jsonutil import JSON, id_of
from berth.core.resources import Resources
from berth.core.states import TaskState
from berth.master.registry import Agent, AgentStatus, Framework, Offer, Task

# Typical agent: the mesos.md section a offer example, rounded.
AGENT_RESOURCES = Resources.of(cpus=4, mem=8192, disk=40000, ports=[(31000, 32000)])
TASK_RESOURCES = Resources.of(cpus=0.5, mem=256)
# Times are fixed, not read from the clock: tests compare them.
REGISTERED_TIME = 1_700_000_000.0


def make_agent(
    agent_id: str = "S1",
    *,
    total: Resources = AGENT_RESOURCES,
    hostname: str = "node1",
    ip: str = "10.0.0.5",
    port: int = 5051,
    attributes: tuple[Attribute, ...] = (),
    status: AgentStatus = AgentStatus.ACTIVE,
    unreachable_time: float | None = None,
    registered_time: float = REGISTERED_TIME,
    version: str = "1.11.0",
    capabilities: tuple[str, ...] = ("MULTI_ROLE",),
) -> Agent:
    if status is AgentStatus.UNREACHABLE and unreachable_time is None:
        unreachable_time = registered_time + 100
    return Agent(
        id=agent_id,
        hostname=hostname,
        ip=ip,
        port=port,
        total=total,
        attributes=attributes,
        version=version,
        capabilities=capabilities,
        registered_time=registered_time,
        status=status,
        unreachable_time=unreachable_time,
    )


def make_framework(
    framework_id: str = "F1",
    *,
    name: str = "hello",
    roles: tuple[str, ...] = ("*",),
    capabilities: frozenset[str] = frozenset(),
    connected: bool = True,
    registered_time: float = REGISTERED_TIME,
    **info: Any,
) -> Framework:
    """A subscribed framework; extra keywords go into its FrameworkInfo."""
    framework_info: JSON = {
        "id": id_of(framework_id),
        "name": name,
        "user": "alice",
        "hostname": "h1",
        "failover_timeout": 100.0,
        "capabilities": [{"type": c} for c in sorted(capabilities)],
        **info,
    }
    if "MULTI_ROLE" in capabilities:
        framework_info["roles"] = list(roles)
    else:
        framework_info["role"] = roles[0]
    return Framework(
        id=framework_id,
        info=framework_info,
        roles=roles,
        capabilities=capabilities,
        registered_time=registered_time,
        connected=connected,
        active=connected,
    )


def task_info(
    task_id: str = "t1",
    *,
    agent_id: str = "S1",
    resources: Resources | list[JSON] = TASK_RESOURCES,
    name: str | None = None,
    **extra: Any,
) -> JSON:
    """A TaskInfo as a framework sends it: resources without role or allocation_info."""
    mesos_resources = resources if isinstance(resources, list) else resources.to_mesos()
    if not isinstance(resources, list):
        for entry in mesos_resources:
            if entry["role"] == "*":
                del entry["role"]
    info: JSON = {
        "name": name if name is not None else task_id,
        "task_id": id_of(task_id),
        "agent_id": id_of(agent_id),
        "resources": mesos_resources,
        "command": {"value": "sleep 1000"},
    }
    info.update(extra)
    return info


def make_task(
    task_id: str = "t1",
    *,
    framework_id: str = "F1",
    agent_id: str = "S1",
    resources: Resources = TASK_RESOURCES,
    role: str = "*",
    state: TaskState = TaskState.RUNNING,
    started_at: float = REGISTERED_TIME + 10,
    kill_requested: bool = False,
    unreachable_time: float | None = None,
) -> Task:
    """A launched task whose history runs STAGING -> ``state`` from ``started_at`` on."""
    info = task_info(task_id, agent_id=agent_id, resources=resources)
    info["resources"] = resources.to_mesos(allocation_role=role)
    statuses: list[JSON] = [{"state": TaskState.STAGING.value, "timestamp": started_at}]
    latest: JSON | None = None
    if state is not TaskState.STAGING:
        statuses.append({"state": state.value, "timestamp": started_at + 1})
        latest = {
            "task_id": id_of(task_id),
            "state": state.value,
            "source": "SOURCE_EXECUTOR",
            "agent_id": id_of(agent_id),
            "timestamp": started_at + 1,
        }
    if state is TaskState.UNREACHABLE and unreachable_time is None:
        unreachable_time = started_at + 1
    return Task(
        framework_id=framework_id,
        task_id=task_id,
        agent_id=agent_id,
        name=task_id,
        info=info,
        resources=resources,
        role=role,
        state=state,
        statuses=statuses,
        latest_status=latest,
        kill_requested=kill_requested,
        unreachable_time=unreachable_time,
    )


def make_offer(
    offer_id: str = "O1",
    *,
    framework_id: str = "F1",
    agent_id: str = "S1",
    role: str = "*",
    resources: Resources = AGENT_RESOURCES,
) -> Offer:
    return Offer(
        id=offer_id,
        framework_id=framework_id,
        agent_id=agent_id,
        role=role,
        resources=resources,
    )


def attach_task(task: Task, *, framework: Framework | None, agent: Agent | None) -> Task:
    """Put ``task`` where the master keeps one in its state: unreachable tasks live with
    their framework only (the master takes them off the agent), terminal ones stay in both
    until acknowledged."""
    if framework is not None:
        if task.state is TaskState.UNREACHABLE:
            framework.unreachable_tasks[task.task_id] = task
        else:
            framework.tasks[task.task_id] = task
    if agent is not None and task.state is not TaskState.UNREACHABLE:
        agent.tasks[task.key] = task
    return task


def attach_offer(
    offer: Offer,
    *,
    framework: Framework,
    agent: Agent,
    outstanding: dict[str, Offer] | None = None,
) -> Offer:
    framework.offers[offer.id] = offer
    agent.offers[offer.id] = offer
    if outstanding is not None:
        outstanding[offer.id] = offer
    return offer
