"""The Marathon-compatible REST API (``/v2``) over the orchestrator."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from berth.marathon.api.apps import AppsApi
from berth.marathon.api.common import install_error_handlers
from berth.marathon.api.groups import GroupsApi
from berth.marathon.api.system import SystemApi
from berth.marathon.orchestrator import Orchestrator
from berth.ui import STATIC_DIR

# What the web UI served at /ui/ is told about the APIs: marathon is this server, one level
# up from /ui/berth-ui.json (relative, so it also works behind a proxy prefix such as the
# gateway's /service/marathon/); the master and agents are not reachable from here, so the
# Nodes page and task logs say they need the gateway.
UI_CONFIG = {"marathon": "..", "mesos": None, "agent": None}


class _MarathonMiddleware:
    """Collapse ``//`` in paths (clients build ``/v2/apps//my-app``) and mark the leader.

    Plain ASGI, so streamed replies (``/v2/events``) pass straight through.
    """

    def __init__(self, app: ASGIApp, leader_url: str) -> None:
        self.app = app
        self.leader_url = leader_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if "//" in path:
            while "//" in path:
                path = path.replace("//", "/")
            scope = {**scope, "path": path, "raw_path": path.encode()}

        async def send_with_leader(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Marathon-Leader", self.leader_url)
            await send(message)

        await self.app(scope, receive, send_with_leader)


def build_app(orchestrator: Orchestrator, *, hostname: str, port: int) -> FastAPI:
    base_url = f"http://{hostname}:{port}"
    app = FastAPI(title="Berth marathon", docs_url=None, redoc_url=None)
    app.include_router(AppsApi(orchestrator, base_url).router())
    app.include_router(GroupsApi(orchestrator, base_url).router())
    app.include_router(SystemApi(orchestrator, f"{hostname}:{port}").router())

    async def root() -> Response:
        return RedirectResponse("/ui/", status_code=302)

    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)

    async def ui_config() -> Response:
        return JSONResponse(UI_CONFIG)

    async def ui_slash() -> Response:
        return RedirectResponse("/ui/", status_code=301)

    # Registered before the mount so it wins over a static file of the same name.
    app.add_api_route("/ui/berth-ui.json", ui_config, methods=["GET"], include_in_schema=False)
    app.add_api_route("/ui", ui_slash, methods=["GET"], include_in_schema=False)
    app.mount("/ui", StaticFiles(directory=STATIC_DIR, html=True), name="ui")
    install_error_handlers(app)
    app.add_middleware(_MarathonMiddleware, leader_url=base_url)
    return app
