"""The master's state as the operator endpoints show it (pure).

State JSON is not the protobuf mapping: ids are plain strings, agents are ``slaves``,
resources are summarised objects (reference/mesos.md, section g).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import berth
from berth.core.attributes import attributes_to_state
from berth.core.jsonutil import JSON
from berth.core.resources import Resources
from berth.core.states import TaskState
from berth.master.master import Master
from berth.master.registry import Agent, AgentStatus, Framework, Offer, Task

BUILD_USER = "berth"

# Per-task proto blocks copied into state JSON when the task has them.
_TASK_EXTRAS = ("labels", "discovery", "container", "health_check")


def task_json(task: Task) -> JSON:
    out: JSON = {
        "id": task.task_id,
        "name": task.name,
        "framework_id": task.framework_id,
        "executor_id": "",
        "slave_id": task.agent_id,
        "state": task.state.value,
        "resources": task.resources.summary(),
        "role": task.role,
        "statuses": list(task.statuses),
    }
    if isinstance(task.info.get("limits"), dict):
        out["limits"] = task.info["limits"]
    command = task.info.get("command")
    if isinstance(command, dict) and isinstance(command.get("user"), str):
        out["user"] = command["user"]
    for key in _TASK_EXTRAS:
        if key in task.info:
            out[key] = task.info[key]
    return out


def offer_json(offer: Offer) -> JSON:
    return {
        "id": offer.id,
        "framework_id": offer.framework_id,
        "allocation_info": {"role": offer.role},
        "slave_id": offer.agent_id,
        "resources": offer.resources.summary(),
    }


def _reserved(resources: Resources) -> dict[str, Any]:
    roles = {
        r["role"]
        for r in resources.to_mesos()
        if isinstance(r.get("role"), str) and r["role"] != "*"
    }
    return {role: resources.reserved(role).summary() for role in sorted(roles)}


def agent_json(agent: Agent) -> JSON:
    return {
        "id": agent.id,
        "hostname": agent.hostname,
        "port": agent.port,
        "attributes": attributes_to_state(agent.attributes),
        "pid": agent.pid,
        "registered_time": agent.registered_time,
        **({"reregistered_time": agent.reregistered_time} if agent.reregistered_time else {}),
        "resources": agent.total.summary(),
        "used_resources": agent.used().summary(),
        "offered_resources": agent.offered().summary(),
        "reserved_resources": _reserved(agent.total),
        "unreserved_resources": agent.total.unreserved().summary(),
        "active": agent.active,
        "deactivated": not agent.active,
        "version": agent.version,
        "capabilities": list(agent.capabilities),
    }


def framework_json(fw: Framework) -> JSON:
    info = fw.info
    used = fw.used()
    offered = fw.offered()
    out: JSON = {
        "id": fw.id,
        "name": fw.name,
        "used_resources": used.summary(),
        "offered_resources": offered.summary(),
        "capabilities": sorted(fw.capabilities),
        "hostname": info.get("hostname", ""),
        "webui_url": info.get("webui_url", ""),
        "active": fw.active,
        "connected": fw.connected,
        "recovered": fw.recovered,
        "user": info.get("user", ""),
        "failover_timeout": fw.failover_timeout,
        "checkpoint": bool(info.get("checkpoint", False)),
        "registered_time": fw.registered_time,
        "unregistered_time": fw.unregistered_time or 0,
        # Mesos's older field: everything the framework holds, used and offered alike.
        "resources": (used + offered).summary(),
        "tasks": [task_json(t) for t in fw.tasks.values()],
        "unreachable_tasks": [task_json(t) for t in fw.unreachable_tasks.values()],
        "completed_tasks": [task_json(t) for t in fw.completed_tasks],
        "offers": [offer_json(o) for o in fw.offers.values()],
        "executors": [],
        "offer_constraints": info.get("offer_constraints", {}),
    }
    if fw.reregistered_time is not None:
        out["reregistered_time"] = fw.reregistered_time
    if isinstance(info.get("principal"), str):
        out["principal"] = info["principal"]
    if "MULTI_ROLE" in fw.capabilities:
        out["roles"] = list(fw.roles)
    else:
        out["role"] = fw.roles[0] if fw.roles else "*"
    if "labels" in info:
        out["labels"] = info["labels"]
    return out


def registered_agents(master: Master) -> list[Agent]:
    return [a for a in master.agents.values() if a.status is not AgentStatus.UNREACHABLE]


def version_json() -> JSON:
    return {
        "version": berth.MESOS_COMPAT_VERSION,
        "berth_version": berth.__version__,
        "build_date": "",
        "build_time": 0,
        "build_user": BUILD_USER,
    }


def flags_json(master: Master) -> dict[str, str]:
    c = master.config
    return {
        "hostname": c.hostname,
        "ip": c.ip,
        "port": str(c.port),
        "agent_ping_timeout": f"{c.agent_ping_timeout}secs",
        "max_agent_ping_timeouts": str(c.max_agent_ping_timeouts),
        "heartbeat_interval": f"{c.heartbeat_interval}secs",
        "allocation_interval": "event-driven",
        "weights": ",".join(f"{role}={weight:g}" for role, weight in c.weights),
    }


def state_json(master: Master) -> JSON:
    agents = registered_agents(master)
    leader_info = {
        "id": master.id,
        "pid": master.pid,
        "port": master.config.port,
        "hostname": master.config.hostname,
    }
    return {
        **version_json(),
        "start_time": master.start_time,
        "elected_time": master.elected_time,
        "id": master.id,
        "pid": master.pid,
        "hostname": master.config.hostname,
        "cluster": master.config.cluster,
        "capabilities": ["AGENT_UPDATE", "AGENT_DRAINING"],
        "activated_slaves": sum(1 for a in agents if a.active),
        "deactivated_slaves": sum(1 for a in agents if not a.active),
        "unreachable_slaves": len(master.agents) - len(agents),
        "leader": master.pid,
        "leader_info": leader_info,
        "flags": flags_json(master),
        "slaves": [agent_json(a) for a in agents],
        "recovered_slaves": [{"id": a} for a in sorted(master.awaiting_reregistration)],
        "frameworks": [framework_json(f) for f in master.frameworks.values()],
        "completed_frameworks": [framework_json(f) for f in master.completed_frameworks],
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    }


def _state_counts(tasks: Iterable[Task]) -> dict[str, int]:
    counts = Counter(t.state.value for t in tasks)
    return {
        s.value: counts.get(s.value, 0)
        for s in TaskState
        if s not in (TaskState.UNKNOWN, TaskState.GONE_BY_OPERATOR)
    }


def state_summary_json(master: Master) -> JSON:
    agents = registered_agents(master)
    slaves = []
    for agent in agents:
        tasks = list(agent.tasks.values())
        slaves.append(
            {
                **agent_json(agent),
                **_state_counts(tasks),
                "framework_ids": sorted({t.framework_id for t in tasks}),
            }
        )
    frameworks = []
    for fw in master.frameworks.values():
        tasks = [*fw.tasks.values(), *fw.unreachable_tasks.values(), *fw.completed_tasks]
        summary = {
            k: v
            for k, v in framework_json(fw).items()
            if k not in ("tasks", "unreachable_tasks", "completed_tasks", "offers", "executors")
        }
        frameworks.append(
            {
                **summary,
                **_state_counts(tasks),
                "slave_ids": sorted({t.agent_id for t in tasks}),
            }
        )
    return {
        "hostname": master.config.hostname,
        "cluster": master.config.cluster,
        "slaves": slaves,
        "frameworks": frameworks,
    }


def all_tasks(master: Master) -> list[Task]:
    tasks: list[Task] = []
    for fw in [*master.frameworks.values(), *master.completed_frameworks]:
        tasks.extend(fw.tasks.values())
        tasks.extend(fw.unreachable_tasks.values())
        tasks.extend(fw.completed_tasks)
    return tasks


def metrics_snapshot(master: Master) -> dict[str, float]:
    agents = list(master.agents.values())
    frameworks = list(master.frameworks.values())
    active_tasks = [t for a in agents for t in a.tasks.values()]
    states = Counter(t.state for t in active_tasks)
    unreachable = sum(len(f.unreachable_tasks) for f in frameworks)
    c = master.counters
    loop_uptime = max(0.0, __import__("time").time() - master.start_time)
    out: dict[str, float] = {
        "master/elected": 1.0,
        "master/uptime_secs": loop_uptime,
        "master/slaves_active": sum(1 for a in agents if a.status is AgentStatus.ACTIVE),
        "master/slaves_connected": sum(1 for a in agents if a.channel is not None),
        "master/slaves_disconnected": sum(1 for a in agents if a.channel is None),
        "master/slaves_inactive": sum(1 for a in agents if a.status is not AgentStatus.ACTIVE),
        "master/slaves_unreachable": sum(1 for a in agents if a.status is AgentStatus.UNREACHABLE),
        "master/frameworks_active": sum(1 for f in frameworks if f.active),
        "master/frameworks_connected": sum(1 for f in frameworks if f.connected),
        "master/frameworks_disconnected": sum(1 for f in frameworks if not f.connected),
        "master/frameworks_inactive": sum(1 for f in frameworks if not f.active),
        "master/outstanding_offers": len(master.offers),
        "master/tasks_staging": states[TaskState.STAGING],
        "master/tasks_starting": states[TaskState.STARTING],
        "master/tasks_running": states[TaskState.RUNNING],
        "master/tasks_killing": states[TaskState.KILLING],
        "master/tasks_unreachable": unreachable,
        "master/slave_registrations": c["slave_registrations"],
        "master/slave_reregistrations": c["slave_reregistrations"],
        "master/slave_removals": c["slave_removals"],
        "master/valid_status_updates": c["valid_status_updates"],
        "master/messages_status_update": c["messages_status_update"],
        "master/event_queue_messages": 0,
        "allocator/mesos/allocation_runs": master.allocation_runs,
        "allocator/mesos/allocation_run_ms": master.allocation_seconds * 1000.0,
    }
    for kind in ("finished", "failed", "killed", "lost", "error", "dropped", "gone"):
        out[f"master/tasks_{kind}"] = c[f"tasks_{kind}"]
    out["master/tasks_gone_by_operator"] = 0
    total = Resources.empty()
    used = Resources.empty()
    for a in agents:
        if a.status is not AgentStatus.UNREACHABLE:
            total = total + a.total
            used = used + a.used()
    for name in ("cpus", "mem", "disk", "gpus"):
        t = total.scalar_value(name)
        u = used.scalar_value(name)
        out[f"master/{name}_total"] = t
        out[f"master/{name}_used"] = u
        out[f"master/{name}_percent"] = u / t if t else 0.0
        out[f"allocator/mesos/resources/{name}/total"] = t
        out[f"allocator/mesos/resources/{name}/offered_or_allocated"] = u + sum(
            o.resources.scalar_value(name) for o in master.offers.values()
        )
    for key, value in c.items():
        if key.startswith("messages_"):
            out[f"master/{key}"] = value
    return out
