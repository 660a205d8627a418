"""Instances: the units Marathon keeps running, and how Mesos status updates move them.

An instance is one wanted copy of an app. It lives across launches: when its task dies
and its goal is still ``running``, the same instance is launched again with the next
incarnation, so task ids look like Marathon's::

    prod_web.instance-5b9d1c2e-4c30-11e5-98c1-be5b2935a987._app.3
    \\______________ instance id ______________________/      \\ incarnation

``apply_status`` is the pure transition from a Mesos TaskStatus; everything else about
instances (placing, killing, persisting) happens in the orchestrator.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from berth.core.jsonutil import JSON, id_value
from berth.core.states import TaskState

TASK_SEPARATOR = "._app."


class Goal(StrEnum):
    RUNNING = "running"  # keep it running: relaunch when its task ends
    STOPPED = "stopped"  # kill its task and forget it


class Condition(StrEnum):
    """Marathon's instance conditions (``instance_changed_event``)."""

    SCHEDULED = "Scheduled"
    PROVISIONED = "Provisioned"
    STAGING = "Staging"
    STARTING = "Starting"
    RUNNING = "Running"
    KILLING = "Killing"
    KILLED = "Killed"
    FAILED = "Failed"
    FINISHED = "Finished"
    ERROR = "Error"
    GONE = "Gone"
    DROPPED = "Dropped"
    UNREACHABLE = "Unreachable"
    UNREACHABLE_INACTIVE = "UnreachableInactive"
    UNKNOWN = "Unknown"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_CONDITIONS

    @property
    def is_active(self) -> bool:
        """Has (or is about to have) a task on an agent."""
        return self in ACTIVE_CONDITIONS


TERMINAL_CONDITIONS = frozenset(
    {
        Condition.KILLED,
        Condition.FAILED,
        Condition.FINISHED,
        Condition.ERROR,
        Condition.GONE,
        Condition.DROPPED,
        Condition.UNKNOWN,
    }
)
ACTIVE_CONDITIONS = frozenset(
    {
        Condition.PROVISIONED,
        Condition.STAGING,
        Condition.STARTING,
        Condition.RUNNING,
        Condition.KILLING,
        Condition.UNREACHABLE,
    }
)

# Mesos task state -> instance condition. TASK_LOST is terminal for Marathon.
_CONDITION_OF: dict[TaskState, Condition] = {
    TaskState.STAGING: Condition.STAGING,
    TaskState.STARTING: Condition.STARTING,
    TaskState.RUNNING: Condition.RUNNING,
    TaskState.KILLING: Condition.KILLING,
    TaskState.FINISHED: Condition.FINISHED,
    TaskState.FAILED: Condition.FAILED,
    TaskState.KILLED: Condition.KILLED,
    TaskState.ERROR: Condition.ERROR,
    TaskState.LOST: Condition.GONE,
    TaskState.DROPPED: Condition.DROPPED,
    TaskState.UNREACHABLE: Condition.UNREACHABLE,
    TaskState.GONE: Condition.GONE,
    TaskState.GONE_BY_OPERATOR: Condition.GONE,
    TaskState.UNKNOWN: Condition.UNKNOWN,
}


def safe_app_name(app_id: str) -> str:
    """``/prod/web`` -> ``prod_web``."""
    return app_id.strip("/").replace("/", "_")


def new_instance_id(app_id: str) -> str:
    return f"{safe_app_name(app_id)}.instance-{uuid.uuid1()}"


def parse_task_id(task_id: str) -> tuple[str, int] | None:
    """(instance id, incarnation) of a Marathon task id, or None.

    >>> parse_task_id("web.instance-abc._app.2")
    ('web.instance-abc', 2)
    >>> parse_task_id("nonsense") is None
    True
    """
    instance_id, sep, incarnation = task_id.rpartition(TASK_SEPARATOR)
    if not sep or not instance_id or not incarnation.isdigit():
        return None
    return instance_id, int(incarnation)


_LEGACY_TASK_ID = re.compile(
    r"^.+\.(marathon-)?[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$"
)


def is_task_id(text: str) -> bool:
    """Whether ``text`` is a Marathon task id: today's form, or the pre-1.5 forms
    ``<app>.<uuid>`` and ``<app>.marathon-<uuid>`` (still accepted by the API).

    >>> legacy = "web.marathon-1a8ff506-e7bb-11f1-aaf9-02fc00000001"
    >>> is_task_id("web.instance-abc._app.1"), is_task_id(legacy)
    (True, True)
    >>> is_task_id("nonsense")
    False
    """
    return parse_task_id(text) is not None or bool(_LEGACY_TASK_ID.match(text))


@dataclass(frozen=True, slots=True)
class Instance:
    instance_id: str
    app_id: str
    version: str  # the app config version it runs
    goal: Goal = Goal.RUNNING
    condition: Condition = Condition.SCHEDULED
    incarnation: int = 0  # launches so far; the task id uses the current one
    agent_id: str | None = None
    hostname: str | None = None
    host_ports: tuple[int, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    scheduled_at: float = 0.0
    staged_at: float | None = None
    started_at: float | None = None
    healthy: bool | None = None
    unreachable_since: float | None = None
    message: str = ""
    role: str = "*"

    @property
    def task_id(self) -> str:
        return f"{self.instance_id}{TASK_SEPARATOR}{self.incarnation}"

    @property
    def has_task(self) -> bool:
        return self.condition.is_active

    def launched(
        self,
        *,
        agent_id: str,
        hostname: str,
        host_ports: tuple[int, ...],
        version: str,
        now: float,
        role: str,
    ) -> Instance:
        """The instance with a new task handed to the master (a new incarnation)."""
        return dataclasses.replace(
            self,
            incarnation=self.incarnation + 1,
            condition=Condition.PROVISIONED,
            agent_id=agent_id,
            hostname=hostname,
            host_ports=host_ports,
            version=version,
            staged_at=now,
            started_at=None,
            healthy=None,
            unreachable_since=None,
            message="",
            role=role,
        )

    def rescheduled(self, version: str, now: float) -> Instance:
        """Back in the launch queue after its task ended (goal still running)."""
        return dataclasses.replace(
            self,
            condition=Condition.SCHEDULED,
            version=version,
            scheduled_at=now,
            agent_id=None,
            hostname=None,
            host_ports=(),
            ip_addresses=(),
            staged_at=None,
            started_at=None,
            healthy=None,
            unreachable_since=None,
        )

    def to_json(self) -> JSON:
        data = dataclasses.asdict(self)
        data["goal"] = self.goal.value
        data["condition"] = self.condition.value
        data["host_ports"] = list(self.host_ports)
        data["ip_addresses"] = list(self.ip_addresses)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Instance:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["goal"] = Goal(values.get("goal", "running"))
        values["condition"] = Condition(values.get("condition", "Scheduled"))
        values["host_ports"] = tuple(values.get("host_ports", ()))
        values["ip_addresses"] = tuple(values.get("ip_addresses", ()))
        return cls(**values)


def apply_status(instance: Instance, status: JSON, now: float) -> Instance:
    """The instance after a Mesos status update for its current task (pure).

    >>> i = Instance("web.instance-1", "/web", "v1", condition=Condition.PROVISIONED, incarnation=1)
    >>> s = {"task_id": {"value": "web.instance-1._app.1"}, "state": "TASK_RUNNING"}
    >>> apply_status(i, s, 10.0).condition, apply_status(i, s, 10.0).started_at
    (<Condition.RUNNING: 'Running'>, 10.0)
    """
    state = TaskState(status["state"])
    condition = _CONDITION_OF[state]
    changes: dict[str, Any] = {"condition": condition}
    if condition is Condition.RUNNING and instance.started_at is None:
        changes["started_at"] = float(status.get("timestamp") or now)
    if condition is Condition.UNREACHABLE:
        if instance.unreachable_since is None:
            changes["unreachable_since"] = now
    else:
        changes["unreachable_since"] = None
    healthy = status.get("healthy")
    if isinstance(healthy, bool):
        changes["healthy"] = healthy
    elif condition.is_terminal:
        changes["healthy"] = None
    message = status.get("message")
    if isinstance(message, str) and message:
        changes["message"] = message
    agent_id = id_value(status.get("agent_id"))
    if agent_id and instance.agent_id is None:
        changes["agent_id"] = agent_id
    addresses = _ip_addresses(status)
    if addresses:
        changes["ip_addresses"] = addresses
    return dataclasses.replace(instance, **changes)


def _ip_addresses(status: JSON) -> tuple[str, ...]:
    container = status.get("container_status")
    if not isinstance(container, dict):
        return ()
    found: list[str] = []
    for network in container.get("network_infos", []) or []:
        for address in network.get("ip_addresses", []) or []:
            ip = address.get("ip_address")
            if isinstance(ip, str):
                found.append(ip)
    return tuple(found)
