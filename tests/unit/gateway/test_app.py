"""The gateway's ASGI application on its own, for the answers that need no upstream:
local documents, the web UI (and the page shown without one), redirects and refusals."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from berth.gateway.agents import AgentDirectory
from berth.gateway.app import GatewayApp, GatewayConfig
from berth.gateway.proxy import Forwarder

Reply = tuple[int, dict[str, str], bytes]


async def _summary() -> dict[str, Any]:
    return {"hostname": "10.0.0.1", "slaves": []}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _app(session: aiohttp.ClientSession, ui_dir: Path | None) -> GatewayApp:
    config = GatewayConfig(
        master="127.0.0.1:1", marathon="127.0.0.1:1", cluster_id="cid", ui_dir=ui_dir
    )
    return GatewayApp(config, Forwarder(session), AgentDirectory(_summary))


async def call(app: GatewayApp, path: str, method: str = "GET", query: bytes = b"") -> Reply:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [(b"host", b"gw")],
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
        "http_version": "1.1",
    }
    sent: list[dict[str, Any]] = []

    received = False

    async def receive() -> dict[str, Any]:
        # As a server does: the (empty) body once, then nothing until the client leaves.
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    start = sent[0]
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], headers, body


async def test_without_a_web_ui_the_start_page_lists_the_apis(
    session: aiohttp.ClientSession,
) -> None:
    app = _app(session, None)
    status, headers, body = await call(app, "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert b"/service/marathon" in body
    status, _, body = await call(app, "/app.js")
    assert status == 404
    assert "app.js" in json.loads(body)["message"]


async def test_web_ui_files_are_served_and_nothing_outside(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    ui = tmp_path / "ui"
    (ui / "js").mkdir(parents=True)
    (ui / "index.html").write_text("<h1>berth</h1>")
    (ui / "js" / "main.js").write_text("export {}")
    (tmp_path / "secret").write_text("no")
    (ui / "leak").symlink_to(tmp_path / "secret")
    app = _app(session, ui.resolve())

    assert (await call(app, "/"))[2] == b"<h1>berth</h1>"
    status, headers, body = await call(app, "/js/main.js")
    assert (status, body) == (200, b"export {}")
    assert "javascript" in headers["content-type"]
    assert (await call(app, "/leak"))[0] == 404  # a symlink out of the folder
    assert (await call(app, "/js/..%2f..%2fsecret"))[0] == 400
    assert (await call(app, "/js/main.js", method="POST"))[0] == 405


async def test_local_documents_and_master_hosts(session: aiohttp.ClientSession) -> None:
    app = _app(session, None)
    status, _, body = await call(app, "/mesos_dns/v1/hosts/master.mesos")
    assert (status, json.loads(body)) == (200, [{"host": "master.mesos.", "ip": "10.0.0.1"}])
    status, _, body = await call(app, "/metadata")
    assert json.loads(body) == {"PUBLIC_IPV4": "127.0.0.1", "CLUSTER_ID": "cid"}
    status, headers, body = await call(app, "/pkgpanda/active.buildinfo.full.json", "HEAD")
    assert status == 200
    assert (await call(app, "/metadata", "DELETE"))[0] == 405
    status, headers, _ = await call(app, "/marathon", query=b"a=%2F")
    assert (status, headers["location"]) == (307, "/marathon/?a=%2F")
    status, _, body = await call(app, "/service/unknown/")
    assert (status, json.loads(body)["message"]) == (404, "404 Not Found: service not found.")
    _, _, body = await call(app, "/metrics")
    assert b"berth_gateway_requests_rejected 1.0" in body


async def test_an_unreachable_master_is_a_502_for_agent_routes(
    session: aiohttp.ClientSession,
) -> None:
    async def down() -> dict[str, Any]:
        raise aiohttp.ClientConnectionError("refused")

    config = GatewayConfig(
        master="127.0.0.1:1", marathon="127.0.0.1:1", cluster_id="c", ui_dir=None
    )
    app = GatewayApp(config, Forwarder(session), AgentDirectory(down))
    status, _, body = await call(app, "/agent/S0/state")
    assert status == 502
    assert json.loads(body)["message"] == "master at 127.0.0.1:1 is not answering"
    status, _, _ = await call(app, "/mesos_dns/v1/hosts/master.mesos")
    assert status == 502
