"""Builders for the Mesos v1 scheduler events and master-generated task statuses.

Pure functions from the master's records to the JSON shapes in ``reference/mesos.md``.
"""

from __future__ import annotations

from berth.core.attributes import attributes_to_mesos
from berth.core.jsonutil import JSON, id_of
from berth.core.states import Reason, Source, TaskState
from berth.master.registry import Agent, Offer

HEARTBEAT: JSON = {"type": "HEARTBEAT"}


def subscribed(framework_id: str, heartbeat_interval: float, master_info: JSON) -> JSON:
    return {
        "type": "SUBSCRIBED",
        "subscribed": {
            "framework_id": id_of(framework_id),
            "heartbeat_interval_seconds": heartbeat_interval,
            "master_info": master_info,
        },
    }


def offer_json(offer: Offer, agent: Agent) -> JSON:
    return {
        "id": id_of(offer.id),
        "framework_id": id_of(offer.framework_id),
        "agent_id": id_of(agent.id),
        "hostname": agent.hostname,
        "allocation_info": {"role": offer.role},
        "url": {
            "scheme": "http",
            "address": {"hostname": agent.hostname, "ip": agent.ip, "port": agent.port},
            "path": "/slave(1)",
        },
        "resources": offer.resources.to_mesos(allocation_role=offer.role),
        "attributes": attributes_to_mesos(agent.attributes),
        "executor_ids": [],
    }


def offers(offer_list: list[JSON]) -> JSON:
    # The double nesting is Mesos's: {"offers": {"offers": [...]}}.
    return {"type": "OFFERS", "offers": {"offers": offer_list}}


def rescind(offer_id: str) -> JSON:
    return {"type": "RESCIND", "rescind": {"offer_id": id_of(offer_id)}}


def update(status: JSON) -> JSON:
    return {"type": "UPDATE", "update": {"status": status}}


def agent_failure(agent_id: str) -> JSON:
    return {"type": "FAILURE", "failure": {"agent_id": id_of(agent_id)}}


def error(message: str) -> JSON:
    return {"type": "ERROR", "error": {"message": message}}


def master_status(
    task_id: str,
    state: TaskState,
    *,
    now: float,
    reason: Reason | None = None,
    message: str | None = None,
    agent_id: str | None = None,
    unreachable_time: float | None = None,
    healthy: bool | None = None,
) -> JSON:
    """A status the master makes up itself: ``SOURCE_MASTER`` and never a uuid, so
    frameworks never acknowledge it (pymesos acknowledges whatever carries a uuid)."""
    status: JSON = {
        "task_id": id_of(task_id),
        "state": state.value,
        "source": Source.MASTER.value,
        "timestamp": now,
    }
    if reason is not None:
        status["reason"] = reason.value
    if message:
        status["message"] = message
    if agent_id is not None:
        status["agent_id"] = id_of(agent_id)
    if unreachable_time is not None:
        status["unreachable_time"] = {"nanoseconds": int(unreachable_time * 1e9)}
    if healthy is not None:
        status["healthy"] = healthy
    return status
