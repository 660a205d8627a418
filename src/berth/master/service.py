"""``berth master``: assemble the master's parts and serve them."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response

from berth.core.http import bind_socket, serve
from berth.master.agent_channel import AgentChannelServer
from berth.master.master import Master, MasterConfig
from berth.master.operator_api import OperatorApi
from berth.master.scheduler_api import SchedulerApi
from berth.state.sqlite import SqliteStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MasterOptions:
    host: str
    port: int
    data_dir: Path
    hostname: str
    advertise_ip: str
    agent_ping_timeout: float = 15.0
    max_agent_ping_timeouts: int = 5
    heartbeat_interval: float = 15.0
    weights: tuple[tuple[str, float], ...] = ()
    cluster: str = "berth"


def build_app(master: Master) -> tuple[FastAPI, AgentChannelServer]:
    app = FastAPI(title="Berth master", docs_url=None, redoc_url=None, openapi_url=None)
    channel = AgentChannelServer(master)
    app.include_router(SchedulerApi(master).router())
    app.include_router(channel.router())
    app.include_router(OperatorApi(master).router())

    async def validation_error(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(str(exc), status_code=400)

    app.add_exception_handler(RequestValidationError, validation_error)
    return app, channel


async def run_master(options: MasterOptions, *, ready: asyncio.Event | None = None) -> None:
    sock = bind_socket(options.host, options.port)
    store = await SqliteStore.open(options.data_dir / "master.db")
    config = MasterConfig(
        hostname=options.hostname,
        ip=options.advertise_ip,
        port=options.port,
        heartbeat_interval=options.heartbeat_interval,
        agent_ping_timeout=options.agent_ping_timeout,
        max_agent_ping_timeouts=options.max_agent_ping_timeouts,
        weights=options.weights,
        cluster=options.cluster,
    )
    master = Master(config, store)
    try:
        await master.recover()
        app, _ = build_app(master)
        log.info("master %s listening on %s:%d", master.id, options.host, options.port)
        await serve(
            app,
            sock,
            ready=ready,
            ws_ping_interval=options.agent_ping_timeout,
            ws_ping_timeout=options.agent_ping_timeout,
        )
    finally:
        master.close()
        await store.close()
