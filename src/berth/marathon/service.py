"""``berth marathon``: the orchestrator, its framework connection and its API."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from berth.core.http import bind_socket, serve
from berth.core.runtime import settle_heap
from berth.marathon.api import build_app
from berth.marathon.events import EventBus
from berth.marathon.mesos import SchedulerClient
from berth.marathon.orchestrator import MarathonConfig, Orchestrator
from berth.marathon.store import InstanceWriter, MarathonStore
from berth.state.sqlite import SqliteStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MarathonOptions:
    master: str
    host: str
    port: int
    data_dir: Path
    hostname: str
    reconcile_interval: float = 60.0


def framework_info(config: MarathonConfig, framework_id: str | None) -> dict[str, object]:
    info: dict[str, object] = {
        "user": "root",
        "name": config.framework_name,
        "hostname": config.hostname,
        "webui_url": f"http://{config.hostname}:{config.port}",
        "failover_timeout": config.failover_timeout,
        "checkpoint": True,
        "role": config.role,
        "capabilities": [{"type": "PARTITION_AWARE"}, {"type": "TASK_KILLING_STATE"}],
    }
    if framework_id:
        info["id"] = {"value": framework_id}
    return info


async def run_marathon(options: MarathonOptions, *, ready: asyncio.Event | None = None) -> None:
    sock = bind_socket(options.host, options.port)
    store = await SqliteStore.open(options.data_dir / "marathon.db")
    config = MarathonConfig(
        master=options.master,
        hostname=options.hostname,
        port=options.port,
        reconcile_interval=options.reconcile_interval,
    )
    bus = EventBus()
    writer = InstanceWriter(store)
    orchestrator = Orchestrator(config, MarathonStore(store), writer, bus)
    try:
        await orchestrator.recover()
        settle_heap()
        client = SchedulerClient(
            options.master,
            framework_info(config, orchestrator.framework_id),
            on_event=orchestrator.on_event,
            on_subscribed=orchestrator.on_subscribed,
        )
        app = build_app(orchestrator, hostname=options.hostname, port=options.port)
        log.info("marathon on %s:%d, master %s", options.host, options.port, options.master)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(writer.run(), name="instance-writer")
            tg.create_task(client.run(), name="scheduler-client")
            tg.create_task(orchestrator.run(client), name="orchestrator")
            tg.create_task(serve(app, sock, ready=ready), name="http")
    finally:
        await writer.flush()
        await store.close()
