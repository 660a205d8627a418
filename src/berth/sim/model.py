"""One simulated agent's state machine, without I/O: frames in, frames out.

The shell (``agents``) owns the WebSocket; this module decides what a minimal but honest
agent answers. It keeps the parts of a real agent that the master can observe:

- REGISTER until the master hands out an id, REREGISTER with its tasks afterwards;
- RUN_TASK -> TASK_STARTING then TASK_RUNNING, KILL_TASK -> TASK_KILLED (TASK_LOST for a
  task it does not know, as the real agent does), SHUTDOWN_FRAMEWORK -> its tasks killed;
- each task's updates form an ordered stream: only the head is in flight, it is resent
  with exponential backoff until an ACKNOWLEDGE with its uuid arrives, and every update
  carries the task's latest state;
- a task leaves the agent once its terminal update is acknowledged.

Nothing runs: a "task" is a record. Time comes in as ``now`` (seconds, any monotonic
origin), so the resend schedule is a pure function of the frames and clock readings seen.

    >>> from berth.core.resources import Resources
    >>> a = SimAgentState(AgentSpec("sim-1", "127.0.0.1", 5051, Resources.of(cpus=1, mem=64)))
    >>> a.connect_frame()["type"]
    'REGISTER'
    >>> a.handle({"type": "REGISTERED", "agent_id": "M-S1"}, now=0.0)
    []
    >>> a.connect_frame()["type"]
    'REREGISTER'
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import berth
from berth.core import agent_protocol as proto
from berth.core.attributes import Attribute, attributes_to_mesos
from berth.core.jsonutil import JSON, id_of, id_value
from berth.core.resources import Resources
from berth.core.states import Reason, Source, TaskState

log = logging.getLogger(__name__)

CAPABILITIES = ("MULTI_ROLE", "TASK_KILLING_STATE")


def new_uuid() -> str:
    """A status-update uuid as it travels in JSON: 16 random bytes, base64."""
    return base64.b64encode(uuid.uuid4().bytes).decode()


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """What a simulated agent says about itself when it registers."""

    hostname: str
    ip: str
    port: int
    resources: Resources
    attributes: tuple[Attribute, ...] = ()

    def info(self) -> JSON:
        """The AgentInfo of ``core.agent_protocol`` (same shape as the real agent's)."""
        return {
            "hostname": self.hostname,
            "ip": self.ip,
            "port": self.port,
            "resources": self.resources.to_mesos(),
            "attributes": attributes_to_mesos(self.attributes),
            "version": berth.__version__,
            "capabilities": list(CAPABILITIES),
        }


@dataclass(slots=True)
class SimTask:
    framework_id: str
    info: JSON
    state: TaskState = TaskState.STAGING
    latest_status: JSON | None = None

    @property
    def task_id(self) -> str:
        return id_value(self.info.get("task_id")) or ""


@dataclass(slots=True)
class _Stream:
    """A task's unacknowledged updates; the head is the one in flight."""

    pending: deque[JSON] = field(default_factory=deque)
    due: float = 0.0  # when the head is resent, if still unacknowledged
    backoff: float = 0.0


Key = tuple[str, str]  # (framework_id, task_id)


class SimAgentState:
    """The bookkeeping of one simulated agent. Owned by one event loop; no locks.

    ``handle`` and ``resend_due`` return the frames to send, in order. The caller calls
    ``disconnected`` when the channel drops: heads then wait for the next REGISTERED,
    which resends them all at once (as the real agent's ``resend_all`` does).
    """

    def __init__(
        self,
        spec: AgentSpec,
        *,
        resend_backoff: float = 10.0,
        max_backoff: float = 600.0,
        uuids: Callable[[], str] = new_uuid,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.agent_id: str | None = None
        self.connected = False
        self.tasks: dict[Key, SimTask] = {}
        self.frameworks: dict[str, JSON] = {}
        self._streams: dict[Key, _Stream] = {}
        self._resend_backoff = resend_backoff
        self._max_backoff = max_backoff
        self._uuids = uuids
        self._wallclock = wallclock
        self.updates_sent = 0
        self.acknowledged = 0

    # ------------------------------------------------------------------ connecting

    def connect_frame(self) -> JSON:
        """REGISTER for a new agent; REREGISTER with its tasks once it has an id."""
        if self.agent_id is None:
            return {"type": proto.REGISTER, "agent": self.spec.info()}
        return {
            "type": proto.REREGISTER,
            "agent_id": self.agent_id,
            "agent": self.spec.info(),
            "tasks": [
                {
                    "framework_id": t.framework_id,
                    "task": t.info,
                    "state": t.state.value,
                    "status": t.latest_status,
                }
                for t in self.tasks.values()
            ],
            "frameworks": [{**info, "id": id_of(fid)} for fid, info in self.frameworks.items()],
        }

    def disconnected(self) -> None:
        self.connected = False

    # ------------------------------------------------------------------ frames in

    def handle(self, frame: JSON, now: float) -> list[JSON]:
        """React to one frame from the master; returns the frames to send back."""
        kind = frame.get("type")
        if kind == proto.REGISTERED:
            self.agent_id = str(frame["agent_id"])
            self.connected = True
            return [self._send_head(key, s, now) for key, s in self._streams.items()]
        if self.agent_id is None:
            log.warning("%s: %s before REGISTERED; ignored", self.spec.hostname, kind)
            return []
        if kind == proto.RUN_TASK:
            return self._run_task(frame, now)
        if kind == proto.KILL_TASK:
            return self._kill_task(str(frame["framework_id"]), str(frame["task_id"]), now)
        if kind == proto.ACKNOWLEDGE:
            return self._acknowledge(
                str(frame["framework_id"]), str(frame["task_id"]), str(frame["uuid"]), now
            )
        if kind == proto.SHUTDOWN_FRAMEWORK:
            return self._shutdown_framework(str(frame["framework_id"]), now)
        if kind == proto.RECONCILE:
            keys = [
                (str(t.get("framework_id")), str(t.get("task_id")))
                for t in frame.get("tasks", [])
                if isinstance(t, dict)
            ]
            return [self._send_head(k, self._streams[k], now) for k in keys if k in self._streams]
        if kind == proto.ERROR:
            log.error("%s: the master refused us: %s", self.spec.hostname, frame.get("message"))
            return []
        log.warning("%s: ignoring unknown frame %r", self.spec.hostname, kind)
        return []

    def _run_task(self, frame: JSON, now: float) -> list[JSON]:
        framework = frame["framework"]
        task = frame["task"]
        framework_id = id_value(framework.get("id"))
        task_id = id_value(task.get("task_id"))
        if framework_id is None or task_id is None:
            log.warning("%s: RUN_TASK without framework or task id", self.spec.hostname)
            return []
        key = (framework_id, task_id)
        if key in self.tasks:
            return []  # a duplicate launch; the real agent ignores it too
        self.frameworks[framework_id] = framework
        self.tasks[key] = SimTask(framework_id, task)
        # Nothing to start: the task is running as soon as it is starting, and the
        # STARTING update in flight already says so in its latest_state.
        starting = self._record(key, TaskState.STARTING)
        running = self._record(key, TaskState.RUNNING)
        return self._enqueue(key, starting, now) + self._enqueue(key, running, now)

    def _kill_task(self, framework_id: str, task_id: str, now: float) -> list[JSON]:
        key = (framework_id, task_id)
        task = self.tasks.get(key)
        if task is None:
            status = self._status(
                framework_id,
                task_id,
                TaskState.LOST,
                source=Source.AGENT,
                reason=Reason.TASK_UNKNOWN,
                message="Task is not known to this agent",
            )
            return self._enqueue(key, status, now)
        if task.state.is_terminal:
            return []
        return self._report(key, TaskState.KILLED, now, message="Killed by request")

    def _shutdown_framework(self, framework_id: str, now: float) -> list[JSON]:
        out: list[JSON] = []
        for key, task in list(self.tasks.items()):
            if task.framework_id != framework_id:
                continue
            # Older updates are moot; the master acknowledges the KILLED for a gone framework.
            self._streams.pop(key, None)
            if not task.state.is_terminal:
                out += self._report(key, TaskState.KILLED, now, message="Framework shut down")
            else:
                self._complete(key)
        return out

    def _acknowledge(
        self, framework_id: str, task_id: str, uuid_b64: str, now: float
    ) -> list[JSON]:
        key = (framework_id, task_id)
        stream = self._streams.get(key)
        if stream is None or not stream.pending or stream.pending[0].get("uuid") != uuid_b64:
            return []
        stream.pending.popleft()
        self.acknowledged += 1
        if stream.pending:
            stream.backoff = 0.0
            return [self._send_head(key, stream, now)]
        del self._streams[key]
        self._complete(key)
        return []

    # ------------------------------------------------------------------ frames out

    def resend_due(self, now: float) -> list[JSON]:
        """Heads whose backoff expired without an acknowledgement (only while connected)."""
        if not self.connected:
            return []
        return [
            self._send_head(key, s, now)
            for key, s in self._streams.items()
            if s.pending and s.due <= now
        ]

    def next_due(self) -> float | None:
        """When ``resend_due`` next has something to send, or None."""
        if not self.connected:
            return None
        return min((s.due for s in self._streams.values() if s.pending), default=None)

    def pending_updates(self) -> int:
        return sum(len(s.pending) for s in self._streams.values())

    def running_tasks(self) -> Iterator[SimTask]:
        return (t for t in self.tasks.values() if t.state is TaskState.RUNNING)

    def _report(
        self, key: Key, state: TaskState, now: float, *, message: str | None = None
    ) -> list[JSON]:
        return self._enqueue(key, self._record(key, state, message=message), now)

    def _record(self, key: Key, state: TaskState, *, message: str | None = None) -> JSON:
        """Move the task to ``state``; the status update saying so (not yet queued)."""
        task = self.tasks[key]
        task.state = state
        status = self._status(key[0], key[1], state, source=Source.EXECUTOR, message=message)
        task.latest_status = status
        return status

    def _enqueue(self, key: Key, status: JSON, now: float) -> list[JSON]:
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream()
        stream.pending.append(status)
        if len(stream.pending) == 1 and self.connected:
            return [self._send_head(key, stream, now)]
        return []

    def _send_head(self, key: Key, stream: _Stream, now: float) -> JSON:
        head = stream.pending[0]
        task = self.tasks.get(key)
        stream.backoff = (
            min(self._max_backoff, stream.backoff * 2) if stream.backoff else self._resend_backoff
        )
        stream.due = now + stream.backoff
        self.updates_sent += 1
        return {
            "type": proto.STATUS_UPDATE,
            "framework_id": key[0],
            "status": head,
            "latest_state": task.state.value if task is not None else head["state"],
        }

    def _complete(self, key: Key) -> None:
        task = self.tasks.get(key)
        if task is None or not task.state.is_terminal or key in self._streams:
            return
        del self.tasks[key]
        if not any(t.framework_id == key[0] for t in self.tasks.values()):
            self.frameworks.pop(key[0], None)

    def _status(
        self,
        framework_id: str,
        task_id: str,
        state: TaskState,
        *,
        source: Source,
        reason: Reason | None = None,
        message: str | None = None,
    ) -> JSON:
        assert self.agent_id is not None
        status: JSON = {
            "task_id": id_of(task_id),
            "state": state.value,
            "source": source.value,
            "agent_id": id_of(self.agent_id),
            "timestamp": self._wallclock(),
            "uuid": self._uuids(),
        }
        if source is Source.EXECUTOR:
            status["executor_id"] = id_of(task_id)
            status["container_status"] = {
                "container_id": id_of(f"sim-{task_id}"),
                "network_infos": [
                    {"ip_addresses": [{"protocol": "IPv4", "ip_address": self.spec.ip}]}
                ],
            }
        if reason is not None:
            status["reason"] = reason.value
        if message:
            status["message"] = message
        return status
