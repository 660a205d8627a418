"""``berth gateway``: the cluster's single HTTP entry point, in the style of DC/OS's
Admin Router.

One process, one pooled aiohttp session to every upstream (master, marathon, agents),
one uvicorn server running :class:`~berth.gateway.app.GatewayApp`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from berth.core.http import bind_socket, serve
from berth.core.jsonutil import loads
from berth.gateway.agents import AgentDirectory
from berth.gateway.app import GatewayApp, GatewayConfig, find_ui_dir
from berth.gateway.metadata import load_or_create_cluster_id
from berth.gateway.proxy import Forwarder

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    host: str
    port: int
    master: str  # host:port
    marathon: str  # host:port
    data_dir: Path


def client_session() -> aiohttp.ClientSession:
    """The one pooled client session of the gateway.

    Bytes pass through untouched (no decompression, no cookies kept between clients, no
    default headers added); only connecting has a deadline, since event streams stay
    open for as long as their clients want them.
    """
    connector = aiohttp.TCPConnector(limit=1024, limit_per_host=0, keepalive_timeout=30)
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
        trust_env=False,
    )


async def run_gateway(options: GatewayOptions, *, ready: asyncio.Event | None = None) -> None:
    sock = bind_socket(options.host, options.port)
    cluster_id = load_or_create_cluster_id(options.data_dir)
    ui_dir = find_ui_dir()
    async with client_session() as session:

        async def master_summary() -> dict[str, Any]:
            url = f"http://{options.master}/master/state-summary"
            async with asyncio.timeout(10), session.get(url) as r:
                r.raise_for_status()
                data: dict[str, Any] = loads(await r.read())
                return data

        config = GatewayConfig(
            master=options.master,
            marathon=options.marathon,
            cluster_id=cluster_id,
            ui_dir=ui_dir,
        )
        app = GatewayApp(config, Forwarder(session), AgentDirectory(master_summary))
        log.info(
            "gateway on %s:%d (cluster %s): master %s, marathon %s, web UI %s",
            options.host,
            options.port,
            cluster_id,
            options.master,
            options.marathon,
            ui_dir or "not installed",
        )
        # The gateway is the cluster's edge: it appends each connection's real peer to
        # X-Forwarded-For, so it must not take a client's own X-Forwarded-* for the truth.
        await serve(app, sock, ready=ready, proxy_headers=False)
