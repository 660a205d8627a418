"""``/v2/groups``: nested groups of apps, their dependencies, scaleBy, versions."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import Response

from berth.core.errors import NotFound
from berth.marathon import planner
from berth.marathon.api.common import app_path, body, deployment_reply, error, flag, reply
from berth.marathon.deployment import steps_json
from berth.marathon.models.change import classify_change
from berth.marathon.models.errors import MarathonValidationError
from berth.marathon.models.frozenmap import FrozenMap
from berth.marathon.models.group import (
    Group,
    parse_group_update,
    validate_group_update,
)
from berth.marathon.models.pathid import PathId
from berth.marathon.models.timestamps import format_timestamp
from berth.marathon.orchestrator import Orchestrator, now_version, stamp_versions
from berth.marathon.views import embeds, group_json


class GroupsApi:
    def __init__(self, orchestrator: Orchestrator, base_url: str) -> None:
        self.o = orchestrator
        self.base_url = base_url

    def router(self) -> APIRouter:
        r = APIRouter()
        for path in ("/v2/groups", "/v2/groups/{rest:path}"):
            r.add_api_route(path, self.dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        return r

    async def dispatch(self, request: Request, rest: str = "") -> Response:
        path = "/" + rest.strip("/")
        method = request.method
        if path.endswith("/versions") or path == "/versions":
            if method != "GET":
                return error(405, f"Method {method} is not allowed on {request.url.path}")
            return await self.versions(app_path(path[: -len("/versions")]))
        if "/versions/" in path:
            group_part, _, version = path.rpartition("/versions/")
            return await self.version(request, app_path(group_part), version)
        group_id = app_path(path)
        if method == "GET":
            return self.show(request, group_id)
        if method in ("POST", "PUT"):
            return await self.change(request, group_id)
        if method == "PATCH":
            return await self.patch(request, group_id)
        if method == "DELETE":
            return await self.delete(request, group_id)
        return error(405, f"Method {method} is not allowed on {request.url.path}")

    def _group(self, group_id: PathId, root: Group | None = None) -> Group:
        group = (root or self.o.root).group(group_id)
        if group is None:
            raise NotFound(f"Group '{group_id}' does not exist")
        return group

    def show(self, request: Request, group_id: PathId) -> Response:
        values = request.query_params.getlist("embed")
        embed = embeds(values)
        with_apps = not values or any(v.startswith("group.apps") for v in values)
        return reply(group_json(self.o, self._group(group_id), embed, apps=with_apps))

    async def change(self, request: Request, group_id: PathId) -> Response:
        force = flag(request, "force")
        dry_run = flag(request, "dryRun")
        data = await body(request)
        creating = request.method == "POST"
        if creating:
            # POST /v2/groups[/{id}]: the body's id is resolved against the URL's group
            # (``POST /v2/groups {"id": "g"}`` creates ``/g``); without one, the URL's
            # group is the one created. PUT always changes the URL's group.
            update = parse_group_update(data, group_id)
        else:
            update = parse_group_update(data, group_id.parent, group_id=group_id)
        if creating:
            if self.o.root.group(update.id) is not None and not update.id.is_root:
                return error(
                    409,
                    f"Group {update.id} is already created. Use PUT to change this group.",
                )
            if self.o.root.app(update.id) is not None:
                return error(409, f"An app with id [{update.id}] already exists.")
        root = self.o.root
        if update.version is not None:
            ts = format_timestamp(update.version)
            old = await self.o.store.root_at(ts)
            if old is None:
                raise NotFound(f"Group '{update.id}' does not exist in version {ts}")
            old_group = old.group(update.id)
            if old_group is None:
                raise NotFound(f"Group '{update.id}' does not exist in version {ts}")
            target = root.with_group(_unversioned(old_group))
        else:
            problems = validate_group_update(update)
            if problems:
                raise MarathonValidationError(problems)
            if update.scale_by is not None:
                # {"scaleBy": f}: every app below the group, instances x f rounded up.
                target = root.with_group(self._group(update.id).scale_by(update.scale_by))
            else:
                target = root.update_group(update)
        if dry_run:
            stamped = stamp_versions(root, target, now_version())[0]
            return reply({"steps": _dry_steps(self.o, stamped)})
        plan = await self.o.deploy(target, force=force)
        if creating:
            return deployment_reply(
                plan.id, plan.version, 201, Location=f"{self.base_url}/v2/groups{update.id}"
            )
        return deployment_reply(plan.id, plan.version)

    async def patch(self, request: Request, group_id: PathId) -> Response:
        self._group(group_id)
        data = await body(request)
        update = parse_group_update(data, group_id.parent, group_id=group_id)
        target = self.o.root.update_group(update)
        plan = await self.o.deploy(target, force=flag(request, "force"))
        return deployment_reply(plan.id, plan.version)

    async def delete(self, request: Request, group_id: PathId) -> Response:
        force = flag(request, "force")
        if group_id.is_root:
            target = Group(group_id)
        else:
            self._group(group_id)
            target = self.o.root.without_group(group_id)
        plan = await self.o.deploy(target, force=force)
        return deployment_reply(plan.id, plan.version)

    async def versions(self, group_id: PathId) -> Response:
        self._group(group_id)
        versions = await self.o.store.root_versions()
        return reply(sorted(versions, reverse=True))

    async def version(self, request: Request, group_id: PathId, version: str) -> Response:
        root = await self.o.store.root_at(version)
        if root is None:
            raise NotFound(f"Group '{group_id}' does not exist in version {version}")
        group = self._group(group_id, root)
        return reply(group_json(self.o, group, embeds(request.query_params.getlist("embed"))))


def _unversioned(group: Group) -> Group:
    return replace(
        group,
        apps=FrozenMap(
            {k: replace(a, version=None, version_info=None) for k, a in group.apps.items()}
        ),
        groups=FrozenMap({k: _unversioned(g) for k, g in group.groups.items()}),
    )


def _dry_steps(orchestrator: Orchestrator, target: Group) -> list[dict[str, object]]:
    plan = planner.plan(
        {str(a.id): a for a in orchestrator.root.transitive_apps()},
        {str(a.id): a for a in target.transitive_apps()},
        dependencies=lambda a: [str(d) for d in a.dependencies],
        instances=lambda a: a.instances,
        classify=classify_change,
        deployment_id="dry-run",
        version="",
    )
    return steps_json(plan)
