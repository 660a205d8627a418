"""HTTP plumbing shared by every Berth service: JSON responses, serving, metrics text."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from berth.core.jsonutil import dumps

_JSONP_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]{0,127}$")


def json_response(request: Request, data: Any, status: int = 200) -> Response:
    """JSON via orjson; ``?jsonp=cb`` wraps it for the old web UIs that ask for it."""
    body = dumps(data)
    callback = request.query_params.get("jsonp")
    if callback and _JSONP_CALLBACK.match(callback):
        return Response(
            callback.encode() + b"(" + body + b");",
            status_code=status,
            media_type="text/javascript",
        )
    return Response(body, status_code=status, media_type="application/json")


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: dict[str, float], prefix: str) -> None:
        self._snapshot = snapshot
        self._prefix = prefix

    def collect(self) -> Any:
        for key, value in sorted(self._snapshot.items()):
            name = self._prefix + re.sub(r"[^a-zA-Z0-9_]", "_", key)
            yield GaugeMetricFamily(name, key, value=float(value))


def prometheus_response(snapshot: dict[str, float], prefix: str = "berth_") -> Response:
    """Render a flat metrics snapshot in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot, prefix))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the listening socket up front, so port clashes fail at start-up, loudly."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listen at once: clients that arrive while the service starts wait in the backlog
    # instead of being refused.
    sock.listen(2048)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its signal handling: each Berth service owns its signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    app: Any,
    sock: socket.socket,
    *,
    ready: asyncio.Event | None = None,
    ws_ping_interval: float | None = None,
    ws_ping_timeout: float | None = None,
    proxy_headers: bool = True,
) -> None:
    """Run uvicorn on an already-bound socket until cancelled.

    ``proxy_headers=False`` keeps each connection's real peer as the client address (an
    edge such as the gateway must not believe a client's own ``X-Forwarded-For``).
    """
    config = uvicorn.Config(
        app,
        proxy_headers=proxy_headers,
        log_config=None,
        access_log=False,
        ws_ping_interval=ws_ping_interval,
        ws_ping_timeout=ws_ping_timeout,
        timeout_keep_alive=75,
        lifespan="off",
        ws_max_size=64 * 1024 * 1024,
        timeout_graceful_shutdown=2,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.01)
        if ready is not None:
            ready.set()
        await asyncio.shield(task)
    finally:
        server.should_exit = True
        await asyncio.wait([task], timeout=5)
        if not task.done():
            server.force_exit = True
            task.cancel()


logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
