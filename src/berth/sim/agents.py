"""Thousands of simulated agents in one asyncio process, over the real agent channel.

Each ``SimulatedAgent`` keeps one aiohttp WebSocket to the master (all of them share one
``ClientSession`` with an unlimited connector) and delegates every decision to its
``model.SimAgentState``. The shell only moves frames and keeps two clocks: the resend timer
of unacknowledged status updates, and the reconnect backoff.

    Simulation.run
      +- SimulatedAgent.run  (x N)   connect -> REGISTER/REREGISTER -> serve -> reconnect
           +- writer task             drains this connection's outgoing frames
           +- loop.call_later         resends unacknowledged updates when due

Connection storms are bounded: at most ``connect_concurrency`` agents are between "dial"
and "REGISTERED" at any time, so a master restart with 5,000 agents does not turn into
5,000 simultaneous handshakes.

    >>> config = SimConfig(master="127.0.0.1:5050", agents=2)
    >>> [s.hostname for s in agent_specs(config)]
    ['sim-00000', 'sim-00001']
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import resource
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import aiohttp

from berth.core import agent_protocol as proto
from berth.core.attributes import Attribute
from berth.core.jsonutil import JSON, dumps, loads
from berth.core.resources import Resources
from berth.sim.model import AgentSpec, SimAgentState

log = logging.getLogger(__name__)

# Immutable, so one instance can be every config's default.
DEFAULT_RESOURCES: Final = Resources.parse_text("cpus:4;mem:8192;disk:10240;ports:[31000-32000]")
MAX_RECONNECT_BACKOFF = 5.0


@dataclass(frozen=True, slots=True)
class SimConfig:
    """How many agents, what they offer, and how they talk to the master.

    ``heartbeat`` is the client-side ping interval, as the real agent's ``--heartbeat``
    (15 s by default); None leaves liveness to the master's pings alone.
    """

    master: str
    agents: int
    resources: Resources = DEFAULT_RESOURCES
    hostname_prefix: str = "sim"
    ip: str = "127.0.0.1"
    racks: int = 10
    heartbeat: float | None = 15.0
    connect_concurrency: int = 64
    resend_backoff: float = 10.0


def agent_specs(config: SimConfig) -> list[AgentSpec]:
    """One spec per agent: distinct hostnames, the same resources, a ``rack`` attribute."""
    return [
        AgentSpec(
            hostname=f"{config.hostname_prefix}-{i:05d}",
            ip=config.ip,
            port=5051,
            resources=config.resources,
            attributes=(Attribute("rack", "TEXT", f"r{i % config.racks}"),) if config.racks else (),
        )
        for i in range(config.agents)
    ]


@dataclass(frozen=True, slots=True)
class SimStatistics:
    agents: int
    registered_once: int  # agents that registered at least once
    connected: int  # agents registered on a live connection right now
    connections: int  # successful WebSocket handshakes, reconnections included
    tasks: int
    running_tasks: int
    pending_updates: int
    updates_sent: int
    acknowledged: int


class SimulatedAgent:
    def __init__(
        self,
        state: SimAgentState,
        url: str,
        *,
        heartbeat: float | None,
        gate: asyncio.Semaphore,
        on_registered: Callable[[SimulatedAgent], None],
    ) -> None:
        self.state = state
        self.url = url
        self.heartbeat = heartbeat
        self.gate = gate
        self.on_registered = on_registered
        self.ever_registered = False
        self.connections = 0

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Stay connected (and registered) until cancelled."""
        backoff = random.uniform(0.0, 0.5)
        while True:
            try:
                await self._connect_and_serve(session)
                backoff = random.uniform(0.0, 0.5)
            except* (aiohttp.ClientError, OSError, TimeoutError) as group:
                log.info("%s: channel error: %s", self.state.spec.hostname, group.exceptions[0])
            finally:
                self.state.disconnected()
            await asyncio.sleep(backoff)
            backoff = min(MAX_RECONNECT_BACKOFF, max(0.2, backoff * 2))

    async def _connect_and_serve(self, session: aiohttp.ClientSession) -> None:
        await self.gate.acquire()
        holding = True
        try:
            async with session.ws_connect(
                self.url, heartbeat=self.heartbeat, max_msg_size=64 * 1024 * 1024
            ) as ws:
                self.connections += 1
                holding = False  # from here _serve releases it: on REGISTERED, or on its way out
                await self._serve(ws, release_gate=self.gate.release)
        finally:
            if holding:
                self.gate.release()

    async def _serve(
        self, ws: aiohttp.ClientWebSocketResponse, *, release_gate: Callable[[], None]
    ) -> None:
        loop = asyncio.get_running_loop()
        outgoing: asyncio.Queue[bytes] = asyncio.Queue()
        timer: asyncio.TimerHandle | None = None
        gate_open = False

        def send(frames: Sequence[JSON]) -> None:
            for frame in frames:
                outgoing.put_nowait(dumps(frame))

        def arm() -> None:
            nonlocal timer
            if timer is not None:
                timer.cancel()
                timer = None
            due = self.state.next_due()
            if due is not None:
                timer = loop.call_at(due, resend)

        def resend() -> None:
            nonlocal timer
            timer = None
            send(self.state.resend_due(loop.time()))
            arm()

        async def writer() -> None:
            while True:
                await ws.send_bytes(await outgoing.get())

        send([self.state.connect_frame()])
        try:
            async with asyncio.TaskGroup() as tg:
                write_task = tg.create_task(writer())
                try:
                    async for message in ws:
                        if message.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                            break
                        frame = loads(message.data)
                        if not isinstance(frame, dict):
                            continue
                        send(self.state.handle(frame, loop.time()))
                        arm()
                        if frame.get("type") == proto.REGISTERED and not gate_open:
                            gate_open = True
                            release_gate()
                            self.on_registered(self)
                finally:
                    write_task.cancel()
                    if timer is not None:
                        timer.cancel()
        finally:
            if not gate_open:
                release_gate()


class Simulation:
    """N simulated agents against one master. ``run`` until cancelled.

    ``ready`` (and ``wait_registered``) fire once every agent has registered at least once.
    """

    def __init__(self, config: SimConfig, specs: Sequence[AgentSpec] | None = None) -> None:
        self.config = config
        self.url = proto.channel_url(config.master)
        self._gate = asyncio.Semaphore(max(1, config.connect_concurrency))
        self._all_registered = asyncio.Event()
        self._registered_once = 0
        self.agents = [
            SimulatedAgent(
                SimAgentState(spec, resend_backoff=config.resend_backoff),
                self.url,
                heartbeat=config.heartbeat,
                gate=self._gate,
                on_registered=self._registered,
            )
            for spec in (specs if specs is not None else agent_specs(config))
        ]
        if not self.agents:
            self._all_registered.set()

    def _registered(self, agent: SimulatedAgent) -> None:
        if agent.ever_registered:
            return
        agent.ever_registered = True
        self._registered_once += 1
        if self._registered_once == len(self.agents):
            self._all_registered.set()

    async def wait_registered(self) -> None:
        await self._all_registered.wait()

    async def run(self, *, ready: asyncio.Event | None = None) -> None:
        raise_open_file_limit(len(self.agents) + 256)
        # limit=0: no connector-wide cap; every agent holds its connection for good.
        connector = aiohttp.TCPConnector(limit=0)
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            asyncio.TaskGroup() as tg,
        ):
            for agent in self.agents:
                tg.create_task(agent.run(session), name=agent.state.spec.hostname)
            if ready is not None:
                await self.wait_registered()
                ready.set()

    def statistics(self) -> SimStatistics:
        states = [a.state for a in self.agents]
        return SimStatistics(
            agents=len(states),
            registered_once=self._registered_once,
            connected=sum(1 for s in states if s.connected),
            connections=sum(a.connections for a in self.agents),
            tasks=sum(len(s.tasks) for s in states),
            running_tasks=sum(1 for s in states for _ in s.running_tasks()),
            pending_updates=sum(s.pending_updates() for s in states),
            updates_sent=sum(s.updates_sent for s in states),
            acknowledged=sum(s.acknowledged for s in states),
        )


def raise_open_file_limit(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted`` (capped by the hard
    limit); returns the soft limit now in force. One WebSocket is one descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft != resource.RLIM_INFINITY and soft < wanted:
        log.warning("open-file limit %d is below the %d this simulation wants", soft, wanted)
    return soft
