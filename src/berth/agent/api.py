"""The agent's HTTP API: ``/state``, ``/files``, ``/health``, metrics."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

import berth
from berth.agent.agent import Agent
from berth.agent.files_api import files_router
from berth.core.attributes import attributes_to_state
from berth.core.http import json_response, prometheus_response
from berth.core.jsonutil import JSON, id_value
from berth.core.resources import Resources
from berth.core.states import TaskState


def _task_resources(task: JSON) -> JSON:
    try:
        return Resources.from_mesos(task.get("resources", [])).summary()
    except Exception:
        return Resources.empty().summary()


def _role(task: JSON) -> str:
    for r in task.get("resources", []):
        if isinstance(r, dict) and isinstance(r.get("allocation_info"), dict):
            return str(r["allocation_info"].get("role", "*"))
    return "*"


def _task_json(
    agent_id: str, framework_id: str, task: JSON, state: TaskState, statuses: list[JSON]
) -> JSON:
    task_id = id_value(task.get("task_id")) or ""
    out: JSON = {
        "id": task_id,
        "name": task.get("name", ""),
        "framework_id": framework_id,
        "executor_id": "",
        "slave_id": agent_id,
        "state": state.value,
        "resources": _task_resources(task),
        "role": _role(task),
        "statuses": statuses,
    }
    for key in ("command", "container", "labels", "discovery", "health_check"):
        if key in task:
            out[key] = task[key]
    return out


def _executor_json(
    agent_id: str,
    framework_id: str,
    task: JSON,
    directory: str,
    container_id: str,
    *,
    running: list[JSON],
    completed: list[JSON],
) -> JSON:
    task_id = id_value(task.get("task_id")) or ""
    return {
        "id": task_id,  # command tasks: the executor id is the task id
        "name": f"Command Executor (Task: {task_id})",
        "source": task_id,
        "container": container_id,
        "directory": directory,
        "resources": _task_resources(task),
        "labels": task.get("labels", {}).get("labels", [])
        if isinstance(task.get("labels"), dict)
        else [],
        "type": "COMMAND",
        "framework_id": framework_id,
        "tasks": running,
        "queued_tasks": [],
        "completed_tasks": completed,
    }


def state_json(agent: Agent) -> JSON:
    agent_id = agent.agent_id or ""
    frameworks: dict[str, JSON] = {}

    def framework(fid: str) -> JSON:
        if fid not in frameworks:
            info = agent.frameworks.get(fid, {})
            frameworks[fid] = {
                "id": fid,
                "name": info.get("name", ""),
                "user": info.get("user", ""),
                "failover_timeout": info.get("failover_timeout", 0),
                "checkpoint": bool(info.get("checkpoint", False)),
                "hostname": info.get("hostname", ""),
                "role": info.get("role", "*"),
                "executors": [],
                "completed_executors": [],
            }
        return frameworks[fid]

    for (fid, task_id), runner in agent.runners.items():
        history = agent.histories.get((fid, task_id))
        statuses = list(history.statuses) if history else []
        task = _task_json(agent_id, fid, runner.task, runner.state, statuses)
        live = not runner.state.is_terminal
        framework(fid)["executors"].append(
            _executor_json(
                agent_id,
                fid,
                runner.task,
                str(runner.sandbox),
                runner.container_id,
                running=[task] if live else [],
                completed=[] if live else [task],
            )
        )
    for done in agent.completed:
        task = _task_json(agent_id, done.framework_id, done.task, done.state, done.statuses)
        framework(done.framework_id)["completed_executors"].append(
            _executor_json(
                agent_id,
                done.framework_id,
                done.task,
                done.sandbox,
                done.container_id,
                running=[],
                completed=[task],
            )
        )
    c = agent.config
    return {
        "version": berth.MESOS_COMPAT_VERSION,
        "berth_version": berth.__version__,
        "start_time": agent.start_time,
        "id": agent_id,
        "pid": f"slave(1)@{c.ip}:{c.port}",
        "hostname": c.hostname,
        "resources": c.resources.summary(),
        "reserved_resources": {},
        "unreserved_resources": c.resources.unreserved().summary(),
        "attributes": attributes_to_state(c.attributes),
        "master_hostname": agent.master_hostname,
        "flags": {
            "work_dir": str(c.work_dir),
            "hostname": c.hostname,
            "ip": c.ip,
            "port": str(c.port),
            "containerizers": ",".join(sorted(agent.containerizers)),
        },
        "frameworks": list(frameworks.values()),
        "completed_frameworks": [],
    }


def metrics_snapshot(agent: Agent) -> dict[str, float]:
    states = Counter(r.state for r in agent.runners.values())
    done = Counter(t.state for t in agent.completed)
    used = Resources.empty()
    for runner in agent.runners.values():
        if not runner.state.is_terminal:
            used = used + Resources.from_mesos(runner.task.get("resources", []))
    total = agent.config.resources
    out: dict[str, float] = {
        "slave/registered": 1.0 if agent.registered.is_set() else 0.0,
        "slave/uptime_secs": max(0.0, time.time() - agent.start_time),
        "slave/tasks_staging": states[TaskState.STAGING],
        "slave/tasks_starting": states[TaskState.STARTING],
        "slave/tasks_running": states[TaskState.RUNNING],
        "slave/tasks_killing": states[TaskState.KILLING],
        "slave/tasks_finished": done[TaskState.FINISHED],
        "slave/tasks_failed": done[TaskState.FAILED],
        "slave/tasks_killed": done[TaskState.KILLED],
        "slave/tasks_lost": done[TaskState.LOST],
        "slave/executors_running": sum(
            1 for r in agent.runners.values() if not r.state.is_terminal
        ),
    }
    for name in ("cpus", "mem", "disk", "gpus"):
        t = total.scalar_value(name)
        u = used.scalar_value(name)
        out[f"slave/{name}_total"] = t
        out[f"slave/{name}_used"] = u
        out[f"slave/{name}_percent"] = u / t if t else 0.0
    return out


def sandbox_roots(agent: Agent) -> list[Path]:
    return [agent.config.work_dir / "slaves"]


def build_app(agent: Agent) -> FastAPI:
    app = FastAPI(title="Berth agent", docs_url=None, redoc_url=None, openapi_url=None)
    router = APIRouter()

    async def state(request: Request) -> Response:
        return json_response(request, state_json(agent))

    async def health() -> Response:
        return Response(status_code=200)

    async def snapshot(request: Request) -> Response:
        return json_response(request, metrics_snapshot(agent))

    async def prometheus() -> Response:
        return prometheus_response(metrics_snapshot(agent))

    for path in ("/state", "/state.json", "/slave(1)/state", "/slave(1)/state.json"):
        router.add_api_route(path, state, methods=["GET"])
    router.add_api_route("/health", health, methods=["GET"])
    router.add_api_route("/metrics/snapshot", snapshot, methods=["GET"])
    router.add_api_route("/metrics", prometheus, methods=["GET"])
    app.include_router(router)
    app.include_router(files_router(lambda: sandbox_roots(agent)))
    return app
