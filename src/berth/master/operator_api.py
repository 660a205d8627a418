"""Operator endpoints of the master: state, summaries, metrics, redirect, version."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from berth.core.http import json_response, prometheus_response
from berth.master import views
from berth.master.master import Master


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"Failed to parse '{name}': '{raw}' is not a number") from None
    if value < 0:
        raise ValueError(f"'{name}' must not be negative")
    return value


class OperatorApi:
    def __init__(self, master: Master) -> None:
        self.master = master

    def router(self) -> APIRouter:
        r = APIRouter()
        for path in ("/master/state", "/master/state.json", "/state", "/state.json"):
            r.add_api_route(path, self.state, methods=["GET"])
        for path in ("/master/state-summary", "/state-summary"):
            r.add_api_route(path, self.state_summary, methods=["GET"])
        for path in ("/master/slaves", "/master/slaves.json", "/slaves"):
            r.add_api_route(path, self.slaves, methods=["GET"])
        for path in ("/master/frameworks", "/master/frameworks.json", "/frameworks"):
            r.add_api_route(path, self.frameworks, methods=["GET"])
        for path in ("/master/tasks", "/master/tasks.json", "/tasks"):
            r.add_api_route(path, self.tasks, methods=["GET"])
        r.add_api_route("/master/roles", self.roles, methods=["GET"])
        r.add_api_route("/master/flags", self.flags, methods=["GET"])
        r.add_api_route("/metrics/snapshot", self.metrics_snapshot, methods=["GET"])
        r.add_api_route("/metrics", self.prometheus, methods=["GET"])
        r.add_api_route("/master/redirect", self.redirect, methods=["GET"])
        r.add_api_route("/redirect", self.redirect, methods=["GET"])
        r.add_api_route("/version", self.version, methods=["GET"])
        for path in ("/health", "/master/health"):
            r.add_api_route(path, self.health, methods=["GET"])
        return r

    async def state(self, request: Request) -> Response:
        return json_response(request, views.state_json(self.master))

    async def state_summary(self, request: Request) -> Response:
        return json_response(request, views.state_summary_json(self.master))

    async def slaves(self, request: Request) -> Response:
        wanted = request.query_params.get("slave_id")
        agents = [
            views.agent_json(a)
            for a in views.registered_agents(self.master)
            if wanted is None or a.id == wanted
        ]
        recovered = [{"id": a} for a in sorted(self.master.awaiting_reregistration)]
        return json_response(request, {"slaves": agents, "recovered_slaves": recovered})

    async def frameworks(self, request: Request) -> Response:
        wanted = request.query_params.get("framework_id")
        m = self.master
        return json_response(
            request,
            {
                "frameworks": [
                    views.framework_json(f)
                    for f in m.frameworks.values()
                    if wanted is None or f.id == wanted
                ],
                "completed_frameworks": [
                    views.framework_json(f)
                    for f in m.completed_frameworks
                    if wanted is None or f.id == wanted
                ],
                "unregistered_frameworks": [],
            },
        )

    async def tasks(self, request: Request) -> Response:
        try:
            limit = _int_param(request, "limit", 100)
            offset = _int_param(request, "offset", 0)
        except ValueError as e:
            return PlainTextResponse(str(e), status_code=400)
        order = request.query_params.get("order", "des")
        if order not in ("asc", "des"):
            return PlainTextResponse("'order' must be 'asc' or 'des'", status_code=400)
        framework_id = request.query_params.get("framework_id")
        task_id = request.query_params.get("task_id")
        tasks = [
            t
            for t in views.all_tasks(self.master)
            if (framework_id is None or t.framework_id == framework_id)
            and (task_id is None or t.task_id == task_id)
        ]
        tasks.sort(key=lambda t: t.first_timestamp, reverse=order == "des")
        page = tasks[offset : offset + limit]
        return json_response(request, {"tasks": [views.task_json(t) for t in page]})

    async def roles(self, request: Request) -> Response:
        by_role: dict[str, list[str]] = {}
        for fw in self.master.frameworks.values():
            for role in fw.roles:
                by_role.setdefault(role, []).append(fw.id)
        weights = dict(self.master.config.weights)
        roles = [
            {
                "name": role,
                "weight": weights.get(role, 1.0),
                "frameworks": fws,
                "resources": {},
                "allocated": {},
                "offered": {},
                "reserved": {},
                "quota": {"role": role, "guarantee": {}, "limit": {}, "consumed": {}},
            }
            for role, fws in sorted(by_role.items())
        ]
        return json_response(request, {"roles": roles})

    async def flags(self, request: Request) -> Response:
        return json_response(request, {"flags": views.flags_json(self.master)})

    async def metrics_snapshot(self, request: Request) -> Response:
        return json_response(request, views.metrics_snapshot(self.master))

    async def prometheus(self) -> Response:
        return prometheus_response(views.metrics_snapshot(self.master))

    async def redirect(self) -> Response:
        c = self.master.config
        return Response(status_code=307, headers={"Location": f"//{c.hostname}:{c.port}"})

    async def version(self, request: Request) -> Response:
        return json_response(request, views.version_json())

    async def health(self) -> Response:
        return Response(status_code=200)
