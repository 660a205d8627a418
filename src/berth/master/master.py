"""The master: agents, frameworks, tasks and offers, and the rules that tie them together.

Everything here runs on the master's one event loop. The HTTP edges (``scheduler_api``,
``agent_channel``, ``operator_api``) parse and validate what arrives and call one method
here; the methods change the registry and send messages out through non-blocking sinks.
Decisions that deserve their own tests live in pure modules: ``validation`` (ACCEPT),
``reconciliation`` (RECONCILE and agents coming back) and the ``allocator``.

Flow of a task::

    framework --ACCEPT--> accept() --RUN_TASK--> agent
    agent --STATUS_UPDATE--> status_update() --UPDATE--> framework
    framework --ACKNOWLEDGE--> acknowledge() --ACKNOWLEDGE--> agent
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import random
import socket
import struct
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import berth
from berth.core import agent_protocol as proto
from berth.core import recordio
from berth.core.attributes import attributes_from_mesos
from berth.core.errors import InvalidInput
from berth.core.jsonutil import JSON, dumps, id_of, id_value
from berth.core.resources import Resources, validate_role
from berth.core.states import Reason, TaskState, for_framework
from berth.master import events
from berth.master.allocator import Allocator
from berth.master.reconciliation import (
    ReportedTask,
    reconcile,
    reconcile_agent,
)
from berth.master.registry import (
    MAX_COMPLETED_FRAMEWORKS,
    Agent,
    AgentStatus,
    EventStream,
    Framework,
    Offer,
    Sink,
    Task,
)
from berth.master.validation import offers_problem, plan_launches
from berth.state import Store

log = logging.getLogger(__name__)

DEFAULT_REFUSE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class MasterConfig:
    hostname: str = "localhost"
    ip: str = "127.0.0.1"
    port: int = 5050
    heartbeat_interval: float = 15.0
    # An agent whose channel stays down (or misses its pongs) for
    # agent_ping_timeout * max_agent_ping_timeouts becomes unreachable.
    agent_ping_timeout: float = 15.0
    max_agent_ping_timeouts: int = 5
    # Triggers that arrive within this window fold into one allocation run.
    allocation_debounce: float = 0.002
    event_queue_size: int = 10_000
    # Role weights for DRF (role -> weight); unlisted roles weigh 1.
    weights: tuple[tuple[str, float], ...] = ()
    # The cluster's human-readable name (Mesos's --cluster): DC/OS tools show it.
    cluster: str = "berth"

    @property
    def agent_removal_timeout(self) -> float:
        return self.agent_ping_timeout * self.max_agent_ping_timeouts


class SubscribeRefused(Exception):
    """A well-formed SUBSCRIBE the master refuses: answered by an ERROR event."""


def parse_weights(text: str) -> tuple[tuple[str, float], ...]:
    """``--weights`` text: ``"eng=2,ops=0.5"`` -> ``(("eng", 2.0), ("ops", 0.5))``.

    >>> parse_weights("eng=2, ops=0.5")
    (('eng', 2.0), ('ops', 0.5))
    """
    weights: list[tuple[str, float]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        role, sep, value = item.partition("=")
        role = role.strip()
        try:
            weight = float(value) if sep else math.nan
        except ValueError:
            weight = math.nan
        if not weight > 0 or math.isinf(weight):
            raise InvalidInput(f"weights: '{item}': expected role=positive number")
        validate_role(role)
        weights.append((role, weight))
    return tuple(weights)


def framework_roles(info: JSON) -> tuple[str, ...]:
    """The roles a FrameworkInfo subscribes with (MULTI_ROLE ``roles`` or legacy ``role``).

    Raises ``SubscribeRefused`` for the combinations Mesos refuses.
    """
    capabilities = {c.get("type") for c in info.get("capabilities", []) if isinstance(c, dict)}
    roles = info.get("roles")
    role = info.get("role")
    if "MULTI_ROLE" in capabilities:
        if role is not None:
            raise SubscribeRefused("'role' cannot be used with MULTI_ROLE; use 'roles'")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise SubscribeRefused("MULTI_ROLE frameworks need 'roles', a list of strings")
        if len(set(roles)) != len(roles):
            raise SubscribeRefused("'roles' must not repeat a role")
        return tuple(roles)
    if roles:
        raise SubscribeRefused("'roles' needs the MULTI_ROLE capability; or use 'role'")
    return (role if isinstance(role, str) and role else "*",)


def framework_capabilities(info: JSON) -> frozenset[str]:
    caps = info.get("capabilities", [])
    return frozenset(
        str(c["type"]) for c in caps if isinstance(c, dict) and isinstance(c.get("type"), str)
    )


def _ip_as_uint32(ip: str) -> int:
    # Mesos puts the in_addr's bytes in a uint32 read in host order (little endian here).
    try:
        return int(struct.unpack("<I", socket.inet_aton(ip))[0])
    except OSError:
        return 0


def _status_history_entry(status: JSON) -> JSON:
    entry: JSON = {"state": status.get("state"), "timestamp": status.get("timestamp", time.time())}
    for key in ("healthy", "labels", "container_status"):
        if key in status:
            entry[key] = status[key]
    return entry


class Master:
    def __init__(
        self,
        config: MasterConfig,
        store: Store,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.id = str(uuid.uuid4())
        self.start_time = time.time()
        self.elected_time = self.start_time
        self.agents: dict[str, Agent] = {}
        self.frameworks: dict[str, Framework] = {}
        self.completed_frameworks: deque[Framework] = deque(maxlen=MAX_COMPLETED_FRAMEWORKS)
        self.removed_framework_ids: set[str] = set()
        self.offers: dict[str, Offer] = {}
        self.allocator = Allocator(rng=rng or random.Random())
        for role, weight in config.weights:
            self.allocator.set_weight(role, weight)
        # Agents the registry knows from before this master started that have not come
        # back yet; explicit reconciliation stays silent about their tasks meanwhile.
        self.awaiting_reregistration: set[str] = set()
        self.counters: Counter[str] = Counter()
        self._agent_seq = 0
        self._framework_seq = 0
        self._offer_seq = 0
        self._alloc_handle: asyncio.TimerHandle | None = None
        self._alloc_all = False
        self._alloc_agents: set[str] = set()
        self._filter_handle: asyncio.TimerHandle | None = None
        self._filter_at: float | None = None
        self.allocation_runs = 0
        self.allocation_seconds = 0.0

    # ------------------------------------------------------------------ lifecycle

    async def recover(self) -> None:
        """Load the agent registry, so agents that re-register keep their ids."""
        for key, _ in await self.store.list("agents/"):
            self.awaiting_reregistration.add(key.removeprefix("agents/"))
        seq = await self.store.get("master/agent_seq")
        self._agent_seq = int(seq.value) if seq else 0
        log.info("registry recovered: %d agents expected back", len(self.awaiting_reregistration))

    def close(self) -> None:
        for handle in (self._alloc_handle, self._filter_handle):
            if handle is not None:
                handle.cancel()
        for fw in self.frameworks.values():
            if fw.failover_handle is not None:
                fw.failover_handle.cancel()
            if fw.stream is not None:
                fw.stream.close()
        for agent in self.agents.values():
            if agent.removal_handle is not None:
                agent.removal_handle.cancel()
            if agent.channel is not None:
                agent.channel.close()

    @property
    def pid(self) -> str:
        return f"master@{self.config.ip}:{self.config.port}"

    def master_info(self) -> JSON:
        c = self.config
        return {
            "id": self.id,
            "ip": _ip_as_uint32(c.ip),
            "port": c.port,
            "pid": self.pid,
            "hostname": c.hostname,
            "version": berth.MESOS_COMPAT_VERSION,
            "address": {"hostname": c.hostname, "ip": c.ip, "port": c.port},
            "capabilities": [{"type": "AGENT_UPDATE"}, {"type": "AGENT_DRAINING"}],
        }

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    # ------------------------------------------------------------------ sending

    def _send_event(self, fw: Framework, event: JSON) -> None:
        stream = fw.stream
        if stream is None:
            return
        try:
            stream.queue.put_nowait(recordio.encode(dumps(event)))
        except asyncio.QueueFull:
            log.warning("framework %s is not reading its events; closing its stream", fw.id)
            self.framework_disconnected(fw.id, stream)

    def _send_update(self, fw: Framework, status: JSON) -> None:
        state = TaskState(status["state"])
        shown = for_framework(state, partition_aware=fw.partition_aware)
        if shown is not state:
            status = {**status, "state": shown.value}
        self._send_event(fw, events.update(status))
        self.counters["messages_status_update"] += 1

    def _send_agent(self, agent: Agent, message: JSON) -> bool:
        if agent.channel is None:
            return False
        if not agent.channel.send(message):
            self.agent_disconnected(agent.id, agent.channel)
            return False
        return True

    # ------------------------------------------------------------------ agents

    def _agent_from_info(self, agent_id: str, info: JSON, now: float) -> Agent:
        return Agent(
            id=agent_id,
            hostname=str(info.get("hostname") or info.get("ip") or "localhost"),
            ip=str(info.get("ip") or "127.0.0.1"),
            port=int(info.get("port") or 5051),
            total=Resources.from_mesos(info.get("resources", []), path="agent.resources"),
            attributes=attributes_from_mesos(info.get("attributes", [])),
            version=str(info.get("version", "")),
            capabilities=tuple(str(c) for c in info.get("capabilities", [])),
            registered_time=now,
        )

    async def register_agent(self, channel: Sink, info: JSON) -> Agent:
        self._agent_seq += 1
        agent_id = f"{self.id}-S{self._agent_seq}"
        agent = self._agent_from_info(agent_id, info, time.time())
        agent.channel = channel
        await self.store.put_many(
            [(f"agents/{agent_id}", dumps(info)), ("master/agent_seq", b"%d" % self._agent_seq)]
        )
        self.agents[agent_id] = agent
        self.allocator.add_agent(agent_id, agent.total)
        self.counters["slave_registrations"] += 1
        channel.send({"type": proto.REGISTERED, "agent_id": agent_id, "master": self.master_info()})
        log.info("agent %s registered (%s, %s)", agent_id, agent.hostname, agent.total.summary())
        self._trigger_allocation([agent_id])
        return agent

    async def reregister_agent(
        self,
        channel: Sink,
        agent_id: str,
        info: JSON,
        reported: Sequence[ReportedTask],
        framework_infos: Sequence[JSON],
    ) -> Agent:
        now = time.time()
        fresh = self._agent_from_info(agent_id, info, now)
        agent = self.agents.get(agent_id)
        if agent is None:
            # Written before the agent appears anywhere: everything below is one step,
            # so nobody sees the agent without the tasks it brought.
            await self.store.put(f"agents/{agent_id}", dumps(info))
            agent = fresh
            self.agents[agent_id] = agent
        else:
            if agent.channel is not None and agent.channel is not channel:
                agent.channel.close()
            if agent.removal_handle is not None:
                agent.removal_handle.cancel()
                agent.removal_handle = None
            self._rescind_offers(agent)
            for field in ("hostname", "ip", "port", "total", "attributes", "version"):
                setattr(agent, field, getattr(fresh, field))
            agent.capabilities = fresh.capabilities
        agent.reregistered_time = now
        agent.channel = channel
        was_unreachable = agent.status is AgentStatus.UNREACHABLE
        agent.status = AgentStatus.ACTIVE
        agent.unreachable_time = None
        self.awaiting_reregistration.discard(agent_id)
        channel.send({"type": proto.REGISTERED, "agent_id": agent_id, "master": self.master_info()})

        infos = {id_value(fi.get("id")): fi for fi in framework_infos}
        known = [*agent.tasks.values()]
        for other in self.frameworks.values():
            known.extend(t for t in other.unreachable_tasks.values() if t.agent_id == agent_id)
        decision = reconcile_agent(known, reported, removed_frameworks=self.removed_framework_ids)

        for fw_id in decision.shutdown_frameworks:
            channel.send({"type": proto.SHUTDOWN_FRAMEWORK, "framework_id": fw_id})
        for task, report in decision.refresh:
            fw = self.frameworks.get(task.framework_id)
            came_back = task.state is TaskState.UNREACHABLE
            if fw is not None and task.task_id in fw.unreachable_tasks:
                del fw.unreachable_tasks[task.task_id]
                fw.tasks[task.task_id] = task
            agent.tasks[task.key] = task
            task.unreachable_time = None
            self._set_task_state(task, report.state, report.status)
            if came_back and fw is not None:
                # Frameworks learn that the task is back, and in which state.
                self._send_update(
                    fw,
                    events.master_status(
                        task.task_id,
                        task.state,
                        now=now,
                        reason=Reason.AGENT_REREGISTERED,
                        agent_id=agent_id,
                        message="Agent re-registered",
                    ),
                )
        for report in decision.adopt:
            self._adopt_task(agent, report, infos.get(report.framework_id))
        for task in decision.kill:
            channel.send(
                {
                    "type": proto.KILL_TASK,
                    "framework_id": task.framework_id,
                    "task_id": task.task_id,
                }
            )
        for task in decision.missing:
            self._task_lost_on_agent(task, now)

        # Rebuild the allocator's view of the agent from scratch: simplest correct way to
        # account for whatever changed while it was away.
        self.allocator.remove_agent(agent_id)
        used: dict[tuple[str, str], Resources] = {}
        for task in agent.tasks.values():
            if not task.state.is_terminal:
                key = (task.framework_id, task.role)
                used[key] = used.get(key, Resources.empty()) + task.resources
        self.allocator.add_agent(agent_id, agent.total, used)
        self.counters["slave_reregistrations"] += 1
        log.info(
            "agent %s re-registered with %d tasks%s",
            agent_id,
            len(reported),
            " (was unreachable)" if was_unreachable else "",
        )
        self._trigger_allocation([agent_id])
        return agent

    def _adopt_task(self, agent: Agent, report: ReportedTask, fw_info: JSON | None) -> None:
        fw = self.frameworks.get(report.framework_id)
        if fw is None:
            info = dict(fw_info or {"name": "", "user": ""})
            info["id"] = id_of(report.framework_id)
            try:
                roles = framework_roles(info)
            except SubscribeRefused:
                roles = (self._allocation_role_of(report.info),)
            fw = Framework(
                id=report.framework_id,
                info=info,
                roles=roles,
                capabilities=framework_capabilities(info),
                registered_time=time.time(),
                recovered=True,
            )
            self.frameworks[fw.id] = fw
            self.allocator.add_framework(fw.id, fw.roles, active=False)
        try:
            resources = Resources.from_mesos(report.info.get("resources", []))
        except InvalidInput:
            resources = Resources.empty()
        role = self._allocation_role(report.info, fw)
        task = Task(
            framework_id=fw.id,
            task_id=report.task_id,
            agent_id=agent.id,
            name=str(report.info.get("name", "")),
            info=report.info,
            resources=resources,
            role=role,
            state=report.state,
        )
        if report.status is not None:
            task.latest_status = report.status
            task.statuses.append(_status_history_entry(report.status))
        agent.tasks[task.key] = task
        fw.tasks[task.task_id] = task

    @staticmethod
    def _allocation_role_of(info: JSON) -> str:
        for r in info.get("resources", []):
            if isinstance(r, dict):
                alloc = r.get("allocation_info")
                if isinstance(alloc, dict) and isinstance(alloc.get("role"), str):
                    return str(alloc["role"])
        return "*"

    def _allocation_role(self, info: JSON, fw: Framework) -> str:
        role = self._allocation_role_of(info)
        return role if role in fw.roles or not fw.roles else fw.roles[0]

    def _task_lost_on_agent(self, task: Task, now: float) -> None:
        fw = self.frameworks.get(task.framework_id)
        state = TaskState.GONE
        self._set_task_state(task, state, None)
        if fw is not None:
            self._send_update(
                fw,
                events.master_status(
                    task.task_id,
                    state,
                    now=now,
                    reason=Reason.AGENT_REREGISTERED,
                    agent_id=task.agent_id,
                    message="Task was not running on the agent when it re-registered",
                ),
            )
            self._complete_task(task)

    def agent_disconnected(self, agent_id: str, channel: Sink) -> None:
        agent = self.agents.get(agent_id)
        if agent is None or agent.channel is not channel:
            return
        channel.close()
        agent.channel = None
        if agent.status is not AgentStatus.ACTIVE:
            return
        agent.status = AgentStatus.DISCONNECTED
        self._rescind_offers(agent)
        self.allocator.deactivate_agent(agent_id)
        loop = asyncio.get_running_loop()
        agent.removal_handle = loop.call_later(
            self.config.agent_removal_timeout, self._mark_unreachable, agent_id
        )
        log.warning(
            "agent %s disconnected; unreachable in %.1fs unless it returns",
            agent_id,
            self.config.agent_removal_timeout,
        )

    def _mark_unreachable(self, agent_id: str) -> None:
        agent = self.agents.get(agent_id)
        if agent is None or agent.status is not AgentStatus.DISCONNECTED:
            return
        now = time.time()
        agent.removal_handle = None
        agent.status = AgentStatus.UNREACHABLE
        agent.unreachable_time = now
        self.counters["slave_removals"] += 1
        self.allocator.remove_agent(agent_id)
        for task in list(agent.tasks.values()):
            fw = self.frameworks.get(task.framework_id)
            if task.state.is_terminal:
                continue
            task.state = TaskState.UNREACHABLE
            task.unreachable_time = now
            task.statuses.append({"state": task.state.value, "timestamp": now})
            del agent.tasks[task.key]
            if fw is None:
                continue
            fw.tasks.pop(task.task_id, None)
            fw.unreachable_tasks[task.task_id] = task
            self._send_update(
                fw,
                events.master_status(
                    task.task_id,
                    TaskState.UNREACHABLE,
                    now=now,
                    reason=Reason.AGENT_REMOVED,
                    agent_id=agent_id,
                    unreachable_time=now,
                    message="Agent is unreachable",
                ),
            )
        for fw in self.frameworks.values():
            if fw.connected:
                self._send_event(fw, events.agent_failure(agent_id))
        log.warning("agent %s is unreachable", agent_id)

    # ------------------------------------------------------------------ tasks

    def _set_task_state(self, task: Task, state: TaskState, status: JSON | None) -> None:
        """Move a task to ``state``, releasing its resources when it becomes terminal."""
        was_terminal = task.state.is_terminal
        if status is not None:
            task.latest_status = status
            status_state = status.get("state")
            if task.statuses and task.statuses[-1].get("state") == status_state:
                if "healthy" in status:
                    task.statuses[-1]["healthy"] = status["healthy"]
            else:
                task.statuses.append(_status_history_entry(status))
        elif not task.statuses or task.statuses[-1].get("state") != state.value:
            task.statuses.append({"state": state.value, "timestamp": time.time()})
        task.state = state
        if state.is_terminal and not was_terminal:
            self.counters[f"tasks_{state.value.removeprefix('TASK_').lower()}"] += 1
            self.allocator.recover(task.agent_id, task.framework_id, task.role, task.resources)
            self._trigger_allocation([task.agent_id])

    def _complete_task(self, task: Task) -> None:
        agent = self.agents.get(task.agent_id)
        if agent is not None:
            agent.tasks.pop(task.key, None)
        fw = self.frameworks.get(task.framework_id)
        if fw is not None:
            fw.tasks.pop(task.task_id, None)
            fw.unreachable_tasks.pop(task.task_id, None)
            fw.completed_tasks.append(task)

    def status_update(
        self, agent_id: str, framework_id: str, status: JSON, latest_state: TaskState
    ) -> None:
        agent = self.agents.get(agent_id)
        if agent is None:
            return
        self.counters["valid_status_updates"] += 1
        task_id = id_value(status.get("task_id")) or ""
        task = agent.tasks.get((framework_id, task_id))
        if task is not None:
            self._set_task_state(task, latest_state, status)
            if TaskState(status["state"]).is_terminal and isinstance(status.get("uuid"), str):
                task.terminal_uuid = status["uuid"]
        fw = self.frameworks.get(framework_id)
        if framework_id in self.removed_framework_ids:
            # Nobody will acknowledge it: do so on the framework's behalf.
            if isinstance(status.get("uuid"), str):
                self._send_agent(
                    agent,
                    {
                        "type": proto.ACKNOWLEDGE,
                        "framework_id": framework_id,
                        "task_id": task_id,
                        "uuid": status["uuid"],
                    },
                )
            if task is not None and task.state.is_terminal:
                self._complete_task(task)
            return
        if fw is not None and fw.connected:
            self._send_update(fw, status)

    # ------------------------------------------------------------------ frameworks

    def subscribe(
        self, info: JSON, framework_id: str | None, suppressed_roles: Sequence[str]
    ) -> tuple[Framework, EventStream]:
        roles = framework_roles(info)
        for role in (*roles, *suppressed_roles):
            try:
                validate_role(role)
            except InvalidInput as e:
                raise SubscribeRefused(f"Invalid role: {e}") from None
        if not set(suppressed_roles) <= set(roles):
            raise SubscribeRefused("suppressed_roles must be a subset of the framework's roles")
        now = time.time()
        if framework_id is not None and framework_id in self.removed_framework_ids:
            raise SubscribeRefused("Framework has been removed")
        fw = self.frameworks.get(framework_id) if framework_id else None
        if fw is None:
            if framework_id is None:
                self._framework_seq += 1
                framework_id = f"{self.id}-{self._framework_seq:04d}"
            fw = Framework(
                id=framework_id,
                info=info,
                roles=roles,
                capabilities=framework_capabilities(info),
                registered_time=now,
            )
            self.frameworks[framework_id] = fw
            self.allocator.add_framework(fw.id, roles, suppressed_roles=suppressed_roles)
            log.info("framework %s (%s) subscribed", fw.id, fw.name)
        else:
            if fw.stream is not None:
                self._send_event(fw, events.error("Framework failed over"))
                fw.stream.close()
                fw.stream = None
                self._remove_offers(fw)
            if fw.failover_handle is not None:
                fw.failover_handle.cancel()
                fw.failover_handle = None
            fw.info = info
            fw.roles = roles
            fw.capabilities = framework_capabilities(info)
            fw.reregistered_time = now
            fw.recovered = False
            self.allocator.update_framework(fw.id, roles, suppressed_roles)
            self.allocator.activate_framework(fw.id)
            log.info("framework %s (%s) re-subscribed", fw.id, fw.name)
        fw.info = {**info, "id": id_of(fw.id)}
        fw.suppressed_roles = set(suppressed_roles)
        fw.connected = fw.active = True
        fw.unregistered_time = None
        stream = EventStream(str(uuid.uuid4()), asyncio.Queue(self.config.event_queue_size))
        fw.stream = stream
        self._send_event(
            fw, events.subscribed(fw.id, self.config.heartbeat_interval, self.master_info())
        )
        self._send_event(fw, events.HEARTBEAT)
        self._trigger_allocation(None)
        return fw, stream

    def framework_disconnected(self, framework_id: str, stream: EventStream) -> None:
        fw = self.frameworks.get(framework_id)
        if fw is None or fw.stream is not stream:
            return
        stream.close()
        fw.stream = None
        fw.connected = fw.active = False
        fw.unregistered_time = time.time()
        self._remove_offers(fw)
        self.allocator.deactivate_framework(fw.id)
        timeout = fw.failover_timeout
        log.info("framework %s disconnected; failover timeout %.0fs", fw.id, timeout)
        if timeout <= 0:
            self.remove_framework(fw.id)
            return
        # Timers far in the future are fine: asyncio keeps them in a heap.
        fw.failover_handle = asyncio.get_running_loop().call_later(
            min(timeout, 10 * 365 * 86400.0), self.remove_framework, fw.id
        )

    def remove_framework(self, framework_id: str) -> None:
        """TEARDOWN, or failover timeout expired: kill its tasks and forget it."""
        fw = self.frameworks.pop(framework_id, None)
        if fw is None:
            return
        if fw.failover_handle is not None:
            fw.failover_handle.cancel()
        self._remove_offers(fw)
        now = time.time()
        agents_told: set[str] = set()
        for task in [*fw.tasks.values(), *fw.unreachable_tasks.values()]:
            if not task.state.is_terminal:
                self._set_task_state(task, TaskState.KILLED, None)
            agent = self.agents.get(task.agent_id)
            if agent is not None:
                agent.tasks.pop(task.key, None)
                if agent.id not in agents_told:
                    agents_told.add(agent.id)
                    self._send_agent(
                        agent, {"type": proto.SHUTDOWN_FRAMEWORK, "framework_id": fw.id}
                    )
            fw.completed_tasks.append(task)
        fw.tasks.clear()
        fw.unreachable_tasks.clear()
        fw.connected = fw.active = False
        fw.unregistered_time = now
        self.allocator.remove_framework(fw.id)
        if fw.stream is not None:
            fw.stream.close()
            fw.stream = None
        self.completed_frameworks.append(fw)
        self.removed_framework_ids.add(fw.id)
        log.info("framework %s removed", fw.id)
        self._trigger_allocation(None)

    # ------------------------------------------------------------------ offers

    def _drop_offer(self, offer: Offer) -> None:
        self.offers.pop(offer.id, None)
        agent = self.agents.get(offer.agent_id)
        if agent is not None:
            agent.offers.pop(offer.id, None)
        fw = self.frameworks.get(offer.framework_id)
        if fw is not None:
            fw.offers.pop(offer.id, None)

    def _remove_offers(self, fw: Framework) -> None:
        """Take back a framework's offers without telling it (it is gone or failing over)."""
        for offer in list(fw.offers.values()):
            self._drop_offer(offer)
            self.allocator.recover(offer.agent_id, fw.id, offer.role, offer.resources)

    def _rescind_offers(self, agent: Agent) -> None:
        for offer in list(agent.offers.values()):
            self._drop_offer(offer)
            self.allocator.recover(agent.id, offer.framework_id, offer.role, offer.resources)
            fw = self.frameworks.get(offer.framework_id)
            if fw is not None:
                self._send_event(fw, events.rescind(offer.id))

    def accept(
        self,
        fw: Framework,
        offer_ids: list[str],
        operations: list[JSON],
        refuse_seconds: float | None,
    ) -> None:
        now = time.time()
        refuse = DEFAULT_REFUSE_SECONDS if refuse_seconds is None else refuse_seconds
        launches = [op for op in operations if op.get("type") == "LAUNCH"]
        problem = offers_problem(offer_ids, fw.id, self.offers)
        if problem is not None:
            for offer_id in offer_ids:
                offer = self.offers.get(offer_id)
                if offer is not None and offer.framework_id == fw.id:
                    self._drop_offer(offer)
                    self.allocator.recover(offer.agent_id, fw.id, offer.role, offer.resources)
                    self._trigger_allocation([offer.agent_id])
            lost = TaskState.DROPPED if fw.partition_aware else TaskState.LOST
            for op in launches:
                for info in op.get("launch", {}).get("task_infos", []):
                    self._send_update(
                        fw,
                        events.master_status(
                            id_value(info.get("task_id")) or "",
                            lost,
                            now=now,
                            reason=Reason.INVALID_OFFERS,
                            message=problem,
                        ),
                    )
            return

        used_offers = [self.offers[oid] for oid in offer_ids]
        for offer in used_offers:
            self._drop_offer(offer)
        agent = self.agents[used_offers[0].agent_id]
        role = used_offers[0].role
        left = Resources.empty()
        for offer in used_offers:
            left = left + offer.resources

        for op in operations:
            kind = op.get("type")
            if kind == "LAUNCH":
                infos = op.get("launch", {}).get("task_infos", [])
                if op.get("id") is not None:
                    for info in infos:
                        self._task_error(
                            fw,
                            id_value(info.get("task_id")) or "",
                            "Operation IDs are not allowed on LAUNCH operations",
                            now,
                            agent.id,
                        )
                    continue
                plan = plan_launches(
                    infos,
                    agent_id=agent.id,
                    role=role,
                    offered=left,
                    taken_task_ids={*fw.tasks, *fw.unreachable_tasks},
                )
                for rejected in plan.rejected:
                    self._task_error(fw, rejected.task_id, rejected.message, now, agent.id)
                for launchable in plan.launch:
                    self._launch(fw, agent, role, launchable.info, launchable.resources, now)
                left = plan.leftover
            elif kind == "LAUNCH_GROUP":
                group = op.get("launch_group", {}).get("task_group", {})
                for info in group.get("tasks", []):
                    task_id = id_value(info.get("task_id")) if isinstance(info, dict) else None
                    self._task_error(
                        fw,
                        task_id or "",
                        "LAUNCH_GROUP (task groups) is not supported by Berth",
                        now,
                        agent.id,
                    )
            else:
                log.warning("framework %s: offer operation %s is not supported", fw.id, kind)
        if left:
            self.allocator.recover(
                agent.id, fw.id, role, left, refuse_seconds=refuse, now=self._now()
            )
            self._schedule_filter_expiry()
        self._trigger_allocation([agent.id])

    def _task_error(
        self, fw: Framework, task_id: str, message: str, now: float, agent_id: str | None
    ) -> None:
        self._send_update(
            fw,
            events.master_status(
                task_id,
                TaskState.ERROR,
                now=now,
                reason=Reason.TASK_INVALID,
                message=message,
                agent_id=agent_id,
            ),
        )
        self.counters["tasks_error"] += 1

    def _launch(
        self, fw: Framework, agent: Agent, role: str, info: JSON, resources: Resources, now: float
    ) -> None:
        task_id = id_value(info.get("task_id")) or ""
        task = Task(
            framework_id=fw.id,
            task_id=task_id,
            agent_id=agent.id,
            name=str(info.get("name", "")),
            info=info,
            resources=resources,
            role=role,
            state=TaskState.STAGING,
            statuses=[{"state": TaskState.STAGING.value, "timestamp": now}],
        )
        fw.tasks[task_id] = task
        agent.tasks[task.key] = task
        self.counters["tasks_launched"] += 1
        framework_info = {k: v for k, v in fw.info.items() if k != "webui_url"}
        self._send_agent(agent, {"type": proto.RUN_TASK, "framework": framework_info, "task": info})

    def decline(
        self, fw: Framework, offer_ids: Iterable[str], refuse_seconds: float | None
    ) -> None:
        refuse = DEFAULT_REFUSE_SECONDS if refuse_seconds is None else refuse_seconds
        agents: set[str] = set()
        for offer_id in offer_ids:
            offer = self.offers.get(offer_id)
            if offer is None or offer.framework_id != fw.id:
                continue
            self._drop_offer(offer)
            self.allocator.recover(
                offer.agent_id,
                fw.id,
                offer.role,
                offer.resources,
                refuse_seconds=refuse,
                now=self._now(),
            )
            agents.add(offer.agent_id)
        self._schedule_filter_expiry()
        if agents:
            self._trigger_allocation(agents)

    def revive(self, fw: Framework, roles: Sequence[str] | None) -> None:
        self.allocator.revive(fw.id, roles or None)
        for role in roles or fw.roles:
            fw.suppressed_roles.discard(role)
        self._trigger_allocation(None)

    def suppress(self, fw: Framework, roles: Sequence[str] | None) -> None:
        self.allocator.suppress(fw.id, roles or None)
        fw.suppressed_roles.update(roles or fw.roles)

    def kill(self, fw: Framework, task_id: str, agent_id: str | None, kill_policy: Any) -> None:
        task = fw.find_task(task_id)
        if task is None:
            for status in reconcile(
                fw,
                [(task_id, agent_id)],
                agents=self.agents,
                awaiting_reregistration=self.awaiting_reregistration,
                now=time.time(),
            ):
                self._send_update(fw, status)
            return
        if task.state.is_terminal:
            return
        task.kill_requested = True
        agent = self.agents.get(task.agent_id)
        if agent is None or not agent.active:
            return  # delivered when the agent re-registers
        message: JSON = {"type": proto.KILL_TASK, "framework_id": fw.id, "task_id": task_id}
        if isinstance(kill_policy, dict):
            message["kill_policy"] = kill_policy
        self._send_agent(agent, message)

    def acknowledge(self, fw: Framework, agent_id: str, task_id: str, uuid_b64: str) -> None:
        agent = self.agents.get(agent_id)
        if agent is None:
            return
        self._send_agent(
            agent,
            {
                "type": proto.ACKNOWLEDGE,
                "framework_id": fw.id,
                "task_id": task_id,
                "uuid": uuid_b64,
            },
        )
        task = fw.tasks.get(task_id)
        if task is not None and task.state.is_terminal and task.terminal_uuid == uuid_b64:
            self._complete_task(task)

    def reconcile(self, fw: Framework, requested: Sequence[tuple[str, str | None]]) -> None:
        for status in reconcile(
            fw,
            requested,
            agents=self.agents,
            awaiting_reregistration=self.awaiting_reregistration,
            now=time.time(),
        ):
            self._send_update(fw, status)

    # ------------------------------------------------------------------ allocation

    def _trigger_allocation(self, agent_ids: Iterable[str] | None) -> None:
        """Ask for an allocation run soon; triggers close together fold into one run."""
        if agent_ids is None:
            self._alloc_all = True
        else:
            self._alloc_agents.update(agent_ids)
        if self._alloc_handle is None:
            loop = asyncio.get_running_loop()
            self._alloc_handle = loop.call_later(self.config.allocation_debounce, self._allocate)

    def _schedule_filter_expiry(self) -> None:
        at = self.allocator.next_filter_expiry()
        if at is None or (self._filter_at is not None and self._filter_at <= at):
            return
        if self._filter_handle is not None:
            self._filter_handle.cancel()
        self._filter_at = at
        self._filter_handle = asyncio.get_running_loop().call_at(at, self._filter_expired)

    def _filter_expired(self) -> None:
        self._filter_handle = None
        self._filter_at = None
        self._trigger_allocation(None)
        self._schedule_filter_expiry()

    def _allocate(self) -> None:
        self._alloc_handle = None
        candidates: set[str] | None = None if self._alloc_all else self._alloc_agents
        self._alloc_all = False
        self._alloc_agents = set()
        if candidates is not None:
            candidates = {a for a in candidates if a in self.agents and self.agents[a].active}
            if not candidates:
                return
        started = time.perf_counter()
        grants = self.allocator.allocate(self._now(), candidates)
        self.allocation_runs += 1
        by_framework: dict[str, list[JSON]] = {}
        for grant in grants:
            fw = self.frameworks.get(grant.framework_id)
            agent = self.agents.get(grant.agent_id)
            if fw is None or not fw.active or agent is None or not agent.active:
                # The allocator's view raced with a disconnect: give it straight back.
                self.allocator.recover(
                    grant.agent_id, grant.framework_id, grant.role, grant.resources
                )
                continue
            self._offer_seq += 1
            offer = Offer(
                id=f"{self.id}-O{self._offer_seq}",
                framework_id=fw.id,
                agent_id=agent.id,
                role=grant.role,
                resources=grant.resources,
            )
            self.offers[offer.id] = offer
            fw.offers[offer.id] = offer
            agent.offers[offer.id] = offer
            by_framework.setdefault(fw.id, []).append(events.offer_json(offer, agent))
        for fw_id, offer_list in by_framework.items():
            self._send_event(self.frameworks[fw_id], events.offers(offer_list))
            self.counters["offers_sent"] += len(offer_list)
        self.allocation_seconds += time.perf_counter() - started
        self._schedule_filter_expiry()


def decode_uuid(value: Any) -> str:
    """Check an ACKNOWLEDGE uuid: base64 of exactly 16 bytes."""
    if not isinstance(value, str):
        raise InvalidInput("'acknowledge.uuid' must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raise InvalidInput("'acknowledge.uuid' is not valid base64") from None
    if len(raw) != 16:
        raise InvalidInput(f"'acknowledge.uuid' must decode to 16 bytes, not {len(raw)}")
    return value
