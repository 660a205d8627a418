"""``berth agent``: assemble the agent's parts and serve them."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from berth.agent.agent import Agent, AgentConfig
from berth.agent.api import build_app
from berth.agent.channel import ChannelClient
from berth.agent.checkpoint import Checkpoint
from berth.agent.containerizers import Containerizer
from berth.agent.host import agent_resources
from berth.core.attributes import parse_attributes
from berth.core.http import bind_socket, serve

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AgentOptions:
    master: str
    host: str
    port: int
    work_dir: Path
    hostname: str
    advertise_ip: str
    resources: str | None = None
    attributes: str | None = None
    containerizers: tuple[str, ...] = ("docker", "process")
    heartbeat: float = 15.0
    status_update_backoff: float = 10.0
    # On SIGTERM, kill every task and wait for it to be gone before exiting (``berth
    # up``). Off by default: a stopped agent leaves its tasks running, and finds them
    # again when it restarts.
    kill_tasks_on_exit: bool = False


# Bounds on the exit with ``kill_tasks_on_exit``: the tasks' own kill policies (3 s grace
# by default) normally end them well within the first; the second is how long the
# TASK_KILLED updates get to reach the master before the agent goes.
KILL_TASKS_TIMEOUT = 30.0
REPORT_KILLED_TIMEOUT = 0.5


async def make_containerizers(
    names: tuple[str, ...], local_id: str, work_dir: Path
) -> dict[str, Containerizer]:
    found: dict[str, Containerizer] = {}
    if "docker" in names:
        from berth.agent.containerizers.docker import DockerContainerizer, docker_available

        if await docker_available():
            found["docker"] = DockerContainerizer(local_id, work_dir / "runtime" / "docker")
        else:
            log.warning("no Docker Engine answers; tasks with an image cannot run here")
    if "process" in names:
        from berth.agent.containerizers.process import ProcessContainerizer

        found["process"] = ProcessContainerizer(local_id, work_dir / "runtime" / "process")
    return found


async def run_agent(options: AgentOptions, *, ready: asyncio.Event | None = None) -> None:
    sock = bind_socket(options.host, options.port)
    work_dir = options.work_dir.resolve()
    checkpoint = Checkpoint(work_dir)
    containerizers = await make_containerizers(
        options.containerizers, checkpoint.local_id(), work_dir
    )
    config = AgentConfig(
        work_dir=work_dir,
        hostname=options.hostname,
        ip=options.advertise_ip,
        port=options.port,
        resources=agent_resources(work_dir, options.resources),
        attributes=parse_attributes(options.attributes or ""),
        status_update_backoff=options.status_update_backoff,
    )
    agent = Agent(config, containerizers)
    try:
        await agent.recover()
        channel = ChannelClient(agent, options.master, heartbeat=options.heartbeat)
        log.info(
            "agent on %s:%d with %s (%s); master %s",
            options.host,
            options.port,
            config.resources.summary(),
            ", ".join(sorted(containerizers)) or "no containerizer",
            options.master,
        )
        async with asyncio.TaskGroup() as tg:
            tg.create_task(agent.run(), name="agent")
            tg.create_task(channel.run(), name="channel")
            tg.create_task(serve(build_app(agent), sock, ready=ready), name="http")
            if options.kill_tasks_on_exit:
                try:
                    await asyncio.Event().wait()  # serve until cancelled (SIGTERM)
                except asyncio.CancelledError:
                    # Still inside the task group: the runners and the channel to the
                    # master keep working while the tasks are killed and reported.
                    await _kill_tasks(agent)
                    raise
    finally:
        for containerizer in containerizers.values():
            await containerizer.close()


async def _kill_tasks(agent: Agent) -> None:
    stuck = await agent.kill_all_tasks(KILL_TASKS_TIMEOUT)
    if stuck:
        log.warning("%d tasks had to be destroyed", stuck)
    deadline = time.monotonic() + REPORT_KILLED_TIMEOUT
    while agent.unacknowledged() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    log.info("every task is gone; exiting")
