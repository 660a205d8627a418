"""``/v2/apps``: create, read, update, scale, restart and delete apps; their tasks and
versions (reference marathon.md section 1)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import Response

from berth.core.errors import InvalidInput, NotFound
from berth.marathon.api.common import (
    app_path,
    body,
    deployment_reply,
    error,
    flag,
    reply,
)
from berth.marathon.instances import Condition, Instance, parse_task_id
from berth.marathon.models.app import AppDefinition
from berth.marathon.models.errors import MarathonValidationError, Violation
from berth.marathon.models.parse import AppRollback, parse_app, parse_app_update
from berth.marathon.models.pathid import PathId
from berth.marathon.models.render import render_app
from berth.marathon.models.timestamps import format_timestamp
from berth.marathon.models.validate import ensure_valid_app
from berth.marathon.orchestrator import Orchestrator
from berth.marathon.views import app_info, counts, embeds, task_json, visible_tasks

# -------------------------------------------------------------------------- label selectors

_SELECTOR = re.compile(
    r"^\s*(?P<key>(?:\\.|[^\s=!,()\\])+)\s*"
    r"(?:(?P<op>==|!=|\s+in\s+|\s+notin\s+)\s*(?P<value>\((?:\\.|[^)])*\)|(?:\\.|[^,])*))?\s*$"
)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _split_top(text: str) -> list[str]:
    parts, depth, current, escaped = [], 0, "", False
    for ch in text:
        if escaped:
            current += "\\" + ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "(":
            depth += 1
            current += ch
        elif ch == ")":
            depth -= 1
            current += ch
        elif ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in parts if p.strip()]


def _member_test(
    key: str, values: frozenset[str], *, negate: bool
) -> Callable[[dict[str, str]], bool]:
    def test(labels: dict[str, str]) -> bool:
        return (labels.get(key) in values) != negate

    return test


def _equality_test(key: str, op: str, value: str) -> Callable[[dict[str, str]], bool]:
    def test(labels: dict[str, str]) -> bool:
        if op == "==":
            return labels.get(key) == value
        if op == "!=":
            return labels.get(key) != value
        return key in labels

    return test


def label_selector(text: str) -> Callable[[dict[str, str]], bool]:
    """Marathon's label selector: comma = AND; ``key``, ``key==v``, ``key!=v``,
    ``key in (a,b)``, ``key notin (a,b)``; backslash escapes.

    >>> label_selector("env==prod,tier in (web, api)")({"env": "prod", "tier": "api"})
    True
    >>> label_selector("env")({"tier": "x"})
    False
    """
    tests: list[Callable[[dict[str, str]], bool]] = []
    for part in _split_top(text):
        m = _SELECTOR.match(part)
        if m is None:
            raise InvalidInput(f"Invalid label selector '{part}'")
        key = _unescape(m.group("key"))
        op = (m.group("op") or "").strip()
        value = m.group("value") or ""
        if op in ("in", "notin"):
            if not (value.startswith("(") and value.endswith(")")):
                raise InvalidInput(f"Invalid label selector '{part}': expected '{op} (a,b)'")
            values = frozenset(_unescape(v.strip()) for v in _split_top(value[1:-1]))
            tests.append(_member_test(key, values, negate=op == "notin"))
        else:
            tests.append(_equality_test(key, op, _unescape(value.strip())))
    return lambda labels: all(t(labels) for t in tests)


# -------------------------------------------------------------------------- the routes


class AppsApi:
    def __init__(self, orchestrator: Orchestrator, base_url: str) -> None:
        self.o = orchestrator
        self.base_url = base_url

    def router(self) -> APIRouter:
        r = APIRouter()
        r.add_api_route("/v2/apps", self.list_apps, methods=["GET"])
        r.add_api_route("/v2/apps", self.create, methods=["POST"])
        r.add_api_route("/v2/apps", self.update_many, methods=["PUT", "PATCH"])
        r.add_api_route(
            "/v2/apps/{rest:path}",
            self.dispatch,
            methods=["GET", "PUT", "PATCH", "DELETE", "POST"],
        )
        return r

    # ---------------------------------------------------------------- collection

    async def list_apps(self, request: Request) -> Response:
        embed = embeds(request.query_params.getlist("embed"))
        cmd = (request.query_params.get("cmd") or "").lower()
        wanted_id = (request.query_params.get("id") or "").lower()
        selector_text = request.query_params.get("label")
        selector = label_selector(selector_text) if selector_text else None
        apps = []
        for app in sorted(self.o.root.transitive_apps(), key=lambda a: a.id):
            if cmd and cmd not in (app.cmd or "").lower():
                continue
            if wanted_id and wanted_id not in str(app.id).lower():
                continue
            if selector is not None and not selector(dict(app.labels)):
                continue
            apps.append(app_info(self.o, app, embed))
        return reply({"apps": apps})

    async def create(self, request: Request) -> Response:
        force = flag(request, "force")
        app = ensure_valid_app(parse_app(await body(request)))
        if self.o.root.app(app.id) is not None:
            return error(409, f"An app with id [{app.id}] already exists.")
        plan = await self.o.deploy(self.o.root.with_app(app), force=force)
        created = self.o.app(app.id) or app
        self._api_post_event(request, created)
        out = render_app(created)
        out.pop("versionInfo", None)
        out.update(counts([]))
        out["deployments"] = [{"id": plan.id}]
        return reply(
            out,
            201,
            {
                "Location": f"{self.base_url}/v2/apps{created.id}",
                "Marathon-Deployment-Id": plan.id,
            },
        )

    async def update_many(self, request: Request) -> Response:
        force = flag(request, "force")
        partial = request.method == "PATCH" or flag(request, "partialUpdate", True)
        data = await body(request)
        if not isinstance(data, list):
            raise MarathonValidationError([Violation("/", "expected a JSON array of apps")])
        target = self.o.root
        problems: list[Violation] = []
        for i, item in enumerate(data):
            raw_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(raw_id, str):
                problems.append(Violation(f"/({i})/id", "error.path.missing"))
                continue
            path = PathId.parse(raw_id)
            existing = target.app(path)
            if request.method == "PATCH" and existing is None:
                raise NotFound(f"App '{path}' does not exist")
            try:
                updated = parse_app_update(item, existing, partial=partial, app_id=path)
                if isinstance(updated, AppRollback):
                    updated = await self._version_of(updated)
                target = target.with_app(ensure_valid_app(updated))
            except MarathonValidationError as e:
                problems.extend(v.under(f"/({i})") for v in e.violations)
        if problems:
            raise MarathonValidationError(problems)
        plan = await self.o.deploy(target, force=force)
        return deployment_reply(plan.id, plan.version)

    # ---------------------------------------------------------------- one app

    async def dispatch(self, request: Request, rest: str) -> Response:
        path = "/" + rest.strip("/")
        method = request.method
        if path.endswith("/*") or path == "/*":
            if method != "GET":
                return error(405, f"Method {method} is not allowed on {request.url.path}")
            return self._group_apps(request, app_path(path[:-2]))
        for suffix, handlers in (
            ("/restart", {"POST": self.restart}),
            ("/tasks", {"GET": self.tasks, "DELETE": self.kill_tasks}),
            ("/versions", {"GET": self.versions}),
        ):
            if path.endswith(suffix):
                handler = handlers.get(method)
                if handler is None:
                    return error(405, f"Method {method} is not allowed on {request.url.path}")
                return await handler(request, app_path(path[: -len(suffix)]))
        if "/tasks/" in path:
            app_part, _, task_id = path.rpartition("/tasks/")
            if method != "DELETE":
                return error(405, f"Method {method} is not allowed on {request.url.path}")
            return await self.kill_task(request, app_path(app_part), task_id)
        if "/versions/" in path:
            app_part, _, version = path.rpartition("/versions/")
            if method != "GET":
                return error(405, f"Method {method} is not allowed on {request.url.path}")
            return await self.version(app_path(app_part), version)
        app_id = app_path(path)
        if method == "GET":
            return self.show(request, app_id)
        if method in ("PUT", "PATCH"):
            return await self.update(request, app_id)
        if method == "DELETE":
            return await self.delete(request, app_id)
        return error(405, f"Method {method} is not allowed on {request.url.path}")

    def _app(self, app_id: PathId) -> AppDefinition:
        app = self.o.app(app_id)
        if app is None:
            raise NotFound(f"App '{app_id}' does not exist")
        return app

    def show(self, request: Request, app_id: PathId) -> Response:
        embed = embeds(request.query_params.getlist("embed"))
        return reply({"app": app_info(self.o, self._app(app_id), embed, single=True)})

    def _group_apps(self, request: Request, group_id: PathId) -> Response:
        group = self.o.root.group(group_id)
        if group is None:
            raise NotFound(f"Group '{group_id}' does not exist")
        embed = embeds(request.query_params.getlist("embed"))
        return reply({"*": [app_info(self.o, a, embed) for a in group.transitive_apps()]})

    async def _version_of(self, rollback: AppRollback) -> AppDefinition:
        assert rollback.id is not None
        ts = format_timestamp(rollback.version)
        app = await self.o.store.app_version(rollback.id, ts, include_forgotten=False)
        if app is None:
            raise NotFound(f"App '{rollback.id}' does not exist in version {ts}")
        # A rollback is a config change to the old definition: it gets a new version.
        return replace(app, version=None, version_info=None)

    async def update(self, request: Request, app_id: PathId) -> Response:
        force = flag(request, "force")
        existing = self.o.app(app_id)
        if request.method == "PATCH" and existing is None:
            raise NotFound(f"App '{app_id}' does not exist")
        partial = request.method == "PATCH" or flag(request, "partialUpdate", True)
        data = await body(request)
        updated = parse_app_update(data, existing, partial=partial, app_id=app_id)
        if isinstance(updated, AppRollback):
            app = await self._version_of(updated)
        else:
            app = ensure_valid_app(updated)
        plan = await self.o.deploy(self.o.root.with_app(app), force=force)
        self._api_post_event(request, self.o.app(app_id) or app)
        if existing is None:
            return deployment_reply(
                plan.id, plan.version, 201, Location=f"{self.base_url}/v2/apps{app_id}"
            )
        return deployment_reply(plan.id, plan.version)

    async def delete(self, request: Request, app_id: PathId) -> Response:
        force = flag(request, "force", True)
        self._app(app_id)
        plan = await self.o.deploy(self.o.root.without_app(app_id), force=force)
        return deployment_reply(plan.id, plan.version)

    async def restart(self, request: Request, app_id: PathId) -> Response:
        force = flag(request, "force")
        self._app(app_id)
        plan = await self.o.deploy(self.o.root, force=force, restart=[app_id])
        return deployment_reply(plan.id, plan.version)

    # ---------------------------------------------------------------- tasks

    async def tasks(self, request: Request, app_id: PathId) -> Response:
        if app_id.segments and app_id.segments[-1] == "*":
            group = self.o.root.group(app_id.parent)
            if group is None:
                raise NotFound(f"Group '{app_id.parent}' does not exist")
            apps = list(group.transitive_apps())
        else:
            apps = [self._app(app_id)]
        tasks = [
            task_json(i, self.o.app_definition(i.app_id, i.version) or app)
            for app in apps
            for i in visible_tasks(self.o.instances_of(app.id))
        ]
        return reply({"tasks": tasks})

    async def kill_tasks(self, request: Request, app_id: PathId) -> Response:
        app = self._app(app_id)
        host = request.query_params.get("host")
        chosen = [
            i
            for i in self.o.instances_of(app_id)
            if i.has_task and (host in (None, "*") or i.hostname == host)
        ]
        return await self._kill(request, app, chosen)

    async def kill_task(self, request: Request, app_id: PathId, task_id: str) -> Response:
        app = self._app(app_id)
        instance = find_instance(self.o, task_id)
        if instance is None or instance.app_id != str(app_id):
            raise NotFound(f"Task '{task_id}' does not exist")
        response = await self._kill(request, app, [instance])
        if not flag(request, "scale"):
            return reply({"task": task_json(instance, app)})
        return response

    async def _kill(
        self, request: Request, app: AppDefinition, instances: list[Instance]
    ) -> Response:
        scale = flag(request, "scale")
        wipe = flag(request, "wipe")
        force = flag(request, "force")
        if scale and wipe:
            return error(400, "You cannot use scale and wipe at the same time.")
        if scale:
            active = [i for i in instances if i.condition is not Condition.KILLING]
            target = self.o.root.with_app(
                replace(app, instances=max(0, app.instances - len(active)))
            )
            plan = await self.o.deploy(
                target, force=force, kill={str(app.id): [i.instance_id for i in active]}
            )
            return deployment_reply(plan.id, plan.version)
        killed = self.o.kill_instances(instances, wipe=wipe)
        return reply({"tasks": [task_json(i, app) for i in killed]})

    # ---------------------------------------------------------------- versions

    async def versions(self, request: Request, app_id: PathId) -> Response:
        self._app(app_id)
        versions = await self.o.store.app_versions(app_id)
        return reply({"versions": sorted(versions, reverse=True)})

    async def version(self, app_id: PathId, version: str) -> Response:
        app = await self.o.store.app_version(app_id, version, include_forgotten=False)
        if app is None:
            raise NotFound(f"App '{app_id}' does not exist in version {version}")
        return reply(render_app(app))

    # ---------------------------------------------------------------- events

    def _api_post_event(self, request: Request, app: AppDefinition) -> None:
        self.o.bus.publish(
            "api_post_event",
            clientIp=request.client.host if request.client else "",
            uri=request.url.path,
            appDefinition=render_app(app),
        )


def find_instance(orchestrator: Orchestrator, task_id: str) -> Instance | None:
    """The instance a task id names (any incarnation; or the instance id itself)."""
    parsed = parse_task_id(task_id)
    instance_id = parsed[0] if parsed else task_id
    return orchestrator.instances.get(instance_id)
