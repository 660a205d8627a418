"""``/v2/tasks``, ``/v2/deployments``, ``/v2/queue``, ``/v2/events``, ``/v2/info``,
``/v2/leader``, ``/ping``, ``/metrics``."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

import berth
from berth.core.http import prometheus_response
from berth.marathon.api.apps import find_instance
from berth.marathon.api.common import NO_CACHE, body, deployment_reply, error, flag, reply
from berth.marathon.instances import Condition, is_task_id
from berth.marathon.models.app import AppDefinition
from berth.marathon.models.pathid import PathId
from berth.marathon.orchestrator import Orchestrator
from berth.marathon.views import deployments_json, queue_json, task_json, visible_tasks

MARATHON_VERSION = "1.10.17"


class SystemApi:
    def __init__(self, orchestrator: Orchestrator, leader: str) -> None:
        self.o = orchestrator
        self.leader = leader
        self.started = time.time()

    def router(self) -> APIRouter:
        r = APIRouter()
        r.add_api_route("/v2/tasks", self.tasks, methods=["GET"])
        r.add_api_route("/v2/tasks/delete", self.delete_tasks, methods=["POST"])
        r.add_api_route("/v2/deployments", self.deployments, methods=["GET"])
        r.add_api_route(
            "/v2/deployments/{deployment_id}", self.delete_deployment, methods=["DELETE"]
        )
        r.add_api_route("/v2/queue", self.queue, methods=["GET"])
        r.add_api_route("/v2/queue/{rest:path}", self.reset_delay, methods=["DELETE"])
        r.add_api_route("/v2/events", self.events, methods=["GET"])
        r.add_api_route("/v2/info", self.info, methods=["GET"])
        r.add_api_route("/v2/leader", self.leader_info, methods=["GET"])
        r.add_api_route("/v2/leader", self.abdicate, methods=["DELETE"])
        r.add_api_route("/ping", self.ping, methods=["GET"])
        r.add_api_route("/health", self.health, methods=["GET"])
        r.add_api_route("/metrics", self.metrics, methods=["GET"])
        r.add_api_route("/metrics/prometheus", self.prometheus, methods=["GET"])
        return r

    # ---------------------------------------------------------------- tasks

    async def tasks(self, request: Request) -> Response:
        wanted = set(request.query_params.getlist("status")) | set(
            request.query_params.getlist("status[]")
        )
        states = {f"TASK_{s.upper()}" for s in wanted}
        out = []
        for instance in visible_tasks(self.o.instances.values()):
            app = self.o.app_definition(instance.app_id, instance.version)
            task = task_json(instance, app)
            if states and task["state"] not in states:
                continue
            out.append(task)
        return reply({"tasks": out})

    async def delete_tasks(self, request: Request) -> Response:
        scale = flag(request, "scale")
        wipe = flag(request, "wipe")
        force = flag(request, "force")
        if scale and wipe:
            return error(400, "You cannot use scale and wipe at the same time.")
        data = await body(request)
        ids = data.get("ids") if isinstance(data, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return error(400, 'Expected a body like {"ids": ["<task id>", ...]}')
        for task_id in ids:
            if not is_task_id(task_id) and task_id not in self.o.instances:
                return error(400, f"Invalid task id '{task_id}'")
        instances = [i for i in (find_instance(self.o, t) for t in ids) if i is not None]
        if not scale:
            killed = self.o.kill_instances(instances, wipe=wipe)
            return reply(
                {
                    "tasks": [
                        task_json(i, self.o.app_definition(i.app_id, i.version)) for i in killed
                    ]
                }
            )
        by_app: dict[str, list[str]] = {}
        for instance in instances:
            if instance.condition is not Condition.KILLING:
                by_app.setdefault(instance.app_id, []).append(instance.instance_id)
        target = self.o.root
        for app_id, victims in by_app.items():
            app = target.app(PathId.parse(app_id))
            if app is not None:
                target = target.with_app(_scaled(app, app.instances - len(victims)))
        plan = await self.o.deploy(target, force=force, kill=by_app)
        return deployment_reply(plan.id, plan.version)

    # ---------------------------------------------------------------- deployments

    async def deployments(self) -> Response:
        return reply(deployments_json(self.o))

    async def delete_deployment(self, request: Request, deployment_id: str) -> Response:
        if deployment_id not in self.o.runs:
            return error(404, f"DeploymentPlan {deployment_id} does not exist")
        if flag(request, "force"):
            await self.o.stop_deployment(deployment_id)
            return Response(status_code=202, headers=NO_CACHE)
        plan = await self.o.rollback_deployment(deployment_id)
        return deployment_reply(plan.id, plan.version)

    # ---------------------------------------------------------------- queue

    async def queue(self, request: Request) -> Response:
        data = queue_json(self.o, time.time())
        if "lastUnusedOffers" not in request.query_params.getlist("embed"):
            for item in data["queue"]:
                item.pop("lastUnusedOffers", None)
        return reply(data)

    async def reset_delay(self, rest: str) -> Response:
        path = "/" + rest.strip("/")
        if not path.endswith("/delay"):
            return error(404, f"URI not found: /v2/queue{path}")
        app_id = str(PathId.parse(path[: -len("/delay")]))
        if not self.o.reset_delay(app_id):
            return error(404, f"Application {app_id} not found in tasks queue.")
        return Response(status_code=204, headers=NO_CACHE)

    # ---------------------------------------------------------------- events

    async def events(self, request: Request) -> Response:
        accept = request.headers.get("accept", "")
        if "text/event-stream" not in accept:
            return error(405, "The event stream needs 'Accept: text/event-stream'")
        types = request.query_params.getlist("event_type")
        remote = request.client.host if request.client else ""
        return StreamingResponse(
            self.o.bus.stream(types or None, remote),
            media_type="text/event-stream;charset=UTF-8",
            headers={**NO_CACHE, "Connection": "close"},
        )

    # ---------------------------------------------------------------- system

    async def info(self) -> Response:
        c = self.o.config
        return reply(
            {
                "name": "marathon",
                "version": MARATHON_VERSION,
                "buildref": f"berth-{berth.__version__}",
                "elected": True,
                "leader": self.leader,
                "frameworkId": self.o.framework_id,
                "marathon_config": {
                    "master": c.master,
                    "mesos_role": c.role,
                    "failover_timeout": int(c.failover_timeout),
                    "framework_name": c.framework_name,
                    "hostname": c.hostname,
                    "features": [],
                    "local_port_min": 10000,
                    "local_port_max": 20000,
                    "task_launch_timeout": 300000,
                    "reconciliation_interval": int(c.reconcile_interval * 1000),
                },
                "zookeeper_config": {"zk": None, "zk_timeout": 10000, "zk_max_versions": 50},
                "http_config": {"http_port": c.port, "https_port": 8443},
            }
        )

    async def leader_info(self) -> Response:
        return reply({"leader": self.leader})

    async def abdicate(self) -> Response:
        return error(
            400, "This Marathon runs without leader election: there is no one to abdicate to"
        )

    async def ping(self, request: Request) -> Response:
        accept = request.headers.get("accept", "*/*")
        if "application/json" in accept:
            return reply("pong")
        return Response("pong", media_type="text/plain", headers=NO_CACHE)

    async def health(self) -> Response:
        return Response(status_code=200 if self.o.ready.is_set() else 503)

    def _snapshot(self) -> dict[str, float]:
        conditions = Counter(i.condition for i in self.o.instances.values())
        apps = list(self.o.root.transitive_apps())
        out: dict[str, float] = {
            "marathon/apps": len(apps),
            "marathon/instances": len(self.o.instances),
            "marathon/deployments": len(self.o.runs),
            "marathon/events/published": self.o.bus.published,
            "marathon/events/listeners": self.o.bus.listeners,
            "marathon/uptime_seconds": time.time() - self.started,
        }
        for condition in Condition:
            out[f"marathon/instances/{condition.value.lower()}"] = conditions[condition]
        return out

    async def metrics(self) -> Response:
        snapshot = self._snapshot()
        return reply(
            {
                "version": "4.0.0",
                "counters": {},
                "gauges": {k: {"value": v} for k, v in snapshot.items()},
                "histograms": {},
                "meters": {},
                "timers": {},
            }
        )

    async def prometheus(self) -> Response:
        return prometheus_response(self._snapshot())


def _scaled(app: AppDefinition, instances: int) -> AppDefinition:
    return replace(app, instances=max(0, instances))
