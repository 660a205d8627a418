"""The gateway's ASGI application: resolve the route, then carry it out.

A plain ASGI callable rather than a FastAPI app: a proxy needs the raw path and query
bytes (forwarded unchanged) and gains nothing from request parsing, and every
microsecond here is added to every API call that passes through.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from berth.core.http import prometheus_response
from berth.core.jsonutil import dumps
from berth.gateway import metadata
from berth.gateway.agents import AgentDirectory
from berth.gateway.proxy import Forwarder, Upstream, send_json, send_unavailable
from berth.gateway.routes import (
    DNS_NOT_RUNNING,
    INDEX,
    DnsHost,
    Local,
    Proxy,
    Redirect,
    Reject,
    ToAgent,
    Ui,
    resolve,
)
from berth.ui import STATIC_DIR

log = logging.getLogger(__name__)

_READ_METHODS = ("GET", "HEAD")
_LANDING_LINKS = [
    ("/service/marathon/v2/apps", "Marathon API (apps)"),
    ("/mesos/master/state", "Mesos master state"),
    ("/agent/<agent-id>/state", "an agent's state"),
    ("/metadata", "cluster metadata"),
    ("/dcos-metadata/dcos-version.json", "DC/OS version document"),
    ("/berth-ui.json", "where the web UI finds the APIs"),
    ("/metrics", "gateway metrics (Prometheus)"),
]


def find_ui_dir() -> Path | None:
    """The web UI's static folder, or None when it is missing from this installation;
    the gateway then shows a page listing the APIs at ``/``."""
    return STATIC_DIR if STATIC_DIR.is_dir() else None


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    master: str
    marathon: str
    cluster_id: str
    ui_dir: Path | None


class GatewayApp:
    """ASGI entry point of ``berth gateway``."""

    def __init__(
        self, config: GatewayConfig, forwarder: Forwarder, directory: AgentDirectory
    ) -> None:
        self.config = config
        self._forwarder = forwarder
        self._directory = directory
        self._upstreams = {
            "master": Upstream("master", config.master),
            "marathon": Upstream("marathon", config.marathon),
        }
        self.counts: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        target = resolve(path, query)
        if isinstance(target, Proxy):
            self.counts[f"requests_proxied_{target.upstream}"] += 1
            status = await self._forwarder.forward(
                scope, receive, send, self._upstreams[target.upstream], target.path, target.prefix
            )
            if status >= 502:
                self.counts[f"upstream_errors_{target.upstream}"] += 1
        elif isinstance(target, ToAgent):
            self.counts["requests_proxied_agent"] += 1
            await self._to_agent(scope, receive, send, target)
        elif isinstance(target, Local):
            self.counts["requests_local"] += 1
            await self._local(scope, receive, send, target)
        elif isinstance(target, DnsHost):
            self.counts["requests_dns"] += 1
            await self._dns_host(send, target)
        elif isinstance(target, Ui):
            self.counts["requests_ui"] += 1
            await self._ui(scope, receive, send, target)
        elif isinstance(target, Redirect):
            self.counts["requests_redirects"] += 1
            response = Response(status_code=target.status, headers={"Location": target.location})
            await response(scope, receive, send)
        elif isinstance(target, Reject):
            self.counts["requests_rejected"] += 1
            await send_json(send, target.status, {"message": target.message})

    async def _to_agent(self, scope: Scope, receive: Receive, send: Send, target: ToAgent) -> None:
        try:
            address = await self._directory.address(target.agent_id)
        except Exception as e:  # the master did not answer; say so, never a 500
            log.info("agent lookup for %s failed: %s", target.agent_id, e)
            await send_unavailable(send, self._upstreams["master"], "is not answering")
            return
        if address is None:
            await send_json(
                send,
                404,
                {"message": f"agent '{target.agent_id}' is not known to the master"},
            )
            return
        upstream = Upstream(f"agent {target.agent_id}", address)
        status = await self._forwarder.forward(
            scope, receive, send, upstream, target.path, target.prefix
        )
        if status >= 502:
            self.counts["upstream_errors_agent"] += 1

    async def _local(self, scope: Scope, receive: Receive, send: Send, target: Local) -> None:
        if scope["method"] not in _READ_METHODS:
            await send_json(
                send, 405, {"message": f"{scope['method']} is not allowed here; use GET"}
            )
            return
        page = target.page
        body: Any
        if page == "health":
            body = {"healthy": True, "cluster_id": self.config.cluster_id}
        elif page == "metrics":
            await prometheus_response(self._metrics(), prefix="berth_gateway_")(
                scope, receive, send
            )
            return
        elif page == "metadata":
            server = scope.get("server")
            body = metadata.metadata_json(server[0] if server else "", self.config.cluster_id)
        elif page == "dcos-version":
            response = Response(
                dumps(metadata.dcos_version_json()),
                media_type="application/json",
                headers={"Cache-Control": "no-cache"},
            )
            await response(scope, receive, send)
            return
        elif page == "ui-config":
            body = metadata.ui_config_json()
        elif page == "buildinfo":
            body = metadata.buildinfo_json()
        elif page == "auth-providers":
            body = metadata.auth_providers_json()
        else:  # berth-ui
            body = metadata.berth_ui_json()
        await send_json(send, 200, body)

    async def _dns_host(self, send: Send, target: DnsHost) -> None:
        try:
            view = await self._directory.view()
        except Exception as e:  # the master did not answer
            log.info("master state for %s failed: %s", target.name, e)
            await send_unavailable(send, self._upstreams["master"], "is not answering")
            return
        hosts = metadata.dns_hosts_json(target.name, view.hostname, view.frameworks)
        if hosts is None:
            await send_json(send, 503, {"message": DNS_NOT_RUNNING})
            return
        await send_json(send, 200, hosts)

    async def _ui(self, scope: Scope, receive: Receive, send: Send, target: Ui) -> None:
        if scope["method"] not in _READ_METHODS:
            await send_json(send, 405, {"message": "the web UI's files are read-only"})
            return
        ui_dir = self.config.ui_dir
        file = _within(ui_dir, target.path) if ui_dir is not None else None
        if file is not None:
            response: Response = FileResponse(file, headers={"Cache-Control": "no-cache"})
        elif target.path == INDEX:
            response = HTMLResponse(metadata.landing_page(self.config.cluster_id, _LANDING_LINKS))
        else:
            message = f"404 Not Found: no route or web UI file for /{target.path}"
            await send_json(send, 404, {"message": message})
            return
        await response(scope, receive, send)

    def _metrics(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.counts.items()}


def _within(root: Path, relative: str) -> Path | None:
    """``root/relative`` if it is a file really inside ``root`` (after symlinks)."""
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate
