"""``berth agent``: assemble the agent's parts and serve them."""

from __future__ import annotations

import asyncio
import logging
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
    finally:
        for containerizer in containerizers.values():
            await containerizer.close()
