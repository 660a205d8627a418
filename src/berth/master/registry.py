"""What the master knows: agents, frameworks, tasks and offers.

Plain mutable records owned by the master's event loop (and touched by nothing else, so no
locks). Decisions about them live in pure modules (``validation``, ``reconciliation``,
``allocator``); ``master.Master`` applies the decisions and talks to the outside.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from berth.core.attributes import Attribute
from berth.core.jsonutil import JSON
from berth.core.resources import Resources
from berth.core.states import TaskState

# Completed tasks kept per framework (Mesos --max_completed_tasks_per_framework).
MAX_COMPLETED_TASKS = 1000
MAX_COMPLETED_FRAMEWORKS = 50


class Sink(Protocol):
    """Where the master sends messages to one peer; never blocks.

    ``send`` returns False when the peer cannot keep up or is gone; the peer's connection
    is then closed and the normal reconnection paths take over.
    """

    def send(self, message: JSON) -> bool: ...

    def close(self) -> None: ...


def live_resources(tasks: Iterable[Task]) -> Resources:
    """What the tasks that have not ended hold."""
    total = Resources.empty()
    for task in tasks:
        if not task.state.is_terminal:
            total = total + task.resources
    return total


def offered_resources(offers: Iterable[Offer]) -> Resources:
    total = Resources.empty()
    for offer in offers:
        total = total + offer.resources
    return total


class AgentStatus(Enum):
    ACTIVE = "active"
    DISCONNECTED = "disconnected"  # channel dropped; waiting for it to come back
    UNREACHABLE = "unreachable"  # silent past the timeout; its tasks are unreachable


@dataclass(slots=True, eq=False)
class Task:
    framework_id: str
    task_id: str
    agent_id: str
    name: str
    info: JSON  # TaskInfo as launched, resources stamped with the allocation role
    resources: Resources
    role: str
    state: TaskState
    statuses: list[JSON] = field(default_factory=list)  # state-JSON history
    latest_status: JSON | None = None
    kill_requested: bool = False
    unreachable_time: float | None = None
    # uuid of the terminal update whose acknowledgement moves the task to completed.
    terminal_uuid: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.framework_id, self.task_id)

    @property
    def first_timestamp(self) -> float:
        return float(self.statuses[0]["timestamp"]) if self.statuses else 0.0


@dataclass(slots=True, eq=False)
class Offer:
    id: str
    framework_id: str
    agent_id: str
    role: str
    resources: Resources


@dataclass(slots=True, eq=False)
class Agent:
    id: str
    hostname: str
    ip: str
    port: int
    total: Resources
    attributes: tuple[Attribute, ...]
    version: str
    capabilities: tuple[str, ...]
    registered_time: float
    reregistered_time: float | None = None
    channel: Sink | None = None
    status: AgentStatus = AgentStatus.ACTIVE
    unreachable_time: float | None = None
    removal_handle: asyncio.TimerHandle | None = None
    tasks: dict[tuple[str, str], Task] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)

    @property
    def pid(self) -> str:
        return f"slave(1)@{self.ip}:{self.port}"

    @property
    def active(self) -> bool:
        return self.status is AgentStatus.ACTIVE

    def used(self) -> Resources:
        return live_resources(self.tasks.values())

    def offered(self) -> Resources:
        return offered_resources(self.offers.values())


@dataclass(slots=True, eq=False)
class EventStream:
    """One subscription's event stream: a bounded queue of RecordIO-ready payloads."""

    id: str
    queue: asyncio.Queue[bytes | None]

    def close(self) -> None:
        # The consumer drains what is queued, then ends the HTTP response.
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            # Full means the consumer is stuck; make room for the end marker.
            self.queue.get_nowait()
            self.queue.put_nowait(None)


@dataclass(slots=True, eq=False)
class Framework:
    id: str
    info: JSON  # FrameworkInfo, with id set
    roles: tuple[str, ...]
    capabilities: frozenset[str]
    registered_time: float
    connected: bool = False
    active: bool = False
    # Known only from agents that re-registered after a master restart; waits for the
    # framework to subscribe again.
    recovered: bool = False
    stream: EventStream | None = None
    suppressed_roles: set[str] = field(default_factory=set)
    reregistered_time: float | None = None
    unregistered_time: float | None = None
    failover_handle: asyncio.TimerHandle | None = None
    tasks: dict[str, Task] = field(default_factory=dict)
    unreachable_tasks: dict[str, Task] = field(default_factory=dict)
    completed_tasks: deque[Task] = field(default_factory=lambda: deque(maxlen=MAX_COMPLETED_TASKS))
    offers: dict[str, Offer] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.info.get("name", ""))

    @property
    def partition_aware(self) -> bool:
        return "PARTITION_AWARE" in self.capabilities

    @property
    def failover_timeout(self) -> float:
        value = self.info.get("failover_timeout", 0.0)
        return float(value) if isinstance(value, int | float) else 0.0

    def used(self) -> Resources:
        return live_resources(self.tasks.values())

    def offered(self) -> Resources:
        return offered_resources(self.offers.values())

    def find_task(self, task_id: str) -> Task | None:
        return self.tasks.get(task_id) or self.unreachable_tasks.get(task_id)
