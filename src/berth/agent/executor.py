"""One task's life on the agent: launch, watch, health-check, kill, report.

A ``TaskRunner`` plays the part of Mesos's built-in command/docker executor. Its states
follow Mesos: STARTING when the launch begins, RUNNING once the container runs, then one
terminal state: FINISHED (exit 0), FAILED (non-zero exit, launch failure, memory limit),
KILLED (asked to stop). Every change goes out as a status update with a fresh uuid,
delivered reliably by the ``StatusUpdateManager``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import signal
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from berth.agent.containerizers import (
    Containerizer,
    ContainerizerError,
    Launched,
    LaunchError,
    Termination,
)
from berth.agent.health_checks import HealthChecker, Target, parse_health_check
from berth.agent.launch import LaunchSpec
from berth.core.errors import InvalidInput
from berth.core.jsonutil import JSON, id_of
from berth.core.states import Reason, Source, TaskState

log = logging.getLogger(__name__)

DEFAULT_KILL_GRACE = 3.0


def new_uuid() -> str:
    return base64.b64encode(uuid.uuid4().bytes).decode()


def termination_outcome(
    term: Termination, *, killed: bool, health_killed: bool
) -> tuple[TaskState, Reason | None, str]:
    """The terminal state a container's end maps to (pure).

    >>> termination_outcome(Termination(0, None, False, ""), killed=False, health_killed=False)
    (<TaskState.FINISHED: 'TASK_FINISHED'>, None, 'Command exited with status 0')
    """
    if term.oom_killed:
        return (
            TaskState.FAILED,
            Reason.CONTAINER_LIMITATION_MEMORY,
            term.message or "Memory limit exceeded",
        )
    if health_killed:
        return (
            TaskState.KILLED,
            Reason.TASK_HEALTH_CHECK_STATUS_UPDATED,
            "Task killed after failing its health check",
        )
    if killed:
        return TaskState.KILLED, None, term.message or "Command terminated by a kill request"
    if term.exit_code == 0:
        return TaskState.FINISHED, None, "Command exited with status 0"
    if term.signal is not None:
        return (
            TaskState.FAILED,
            None,
            term.message or f"Command terminated with signal {term.signal}",
        )
    return (
        TaskState.FAILED,
        None,
        term.message or f"Command exited with status {term.exit_code}",
    )


@dataclass(slots=True)
class TaskContext:
    """What a runner needs from the agent around it."""

    agent_id: str
    report: Callable[[str, JSON], None]  # (framework_id, status) -> queued for delivery
    checkpoint: Callable[[TaskRunner, bool], None]  # (runner, durable)
    finished: Callable[[TaskRunner], None]


class TaskRunner:
    def __init__(
        self,
        ctx: TaskContext,
        *,
        framework: JSON,
        framework_id: str,
        task: JSON,
        spec: LaunchSpec,
        containerizer: Containerizer,
        agent_ip: str,
        state: TaskState = TaskState.STAGING,
        launched: Launched | None = None,
    ) -> None:
        self.ctx = ctx
        self.framework = framework
        self.framework_id = framework_id
        self.task = task
        self.spec = spec
        self.containerizer = containerizer
        self.state = state
        self.launched = launched
        self.agent_ip = agent_ip
        self.latest_status: JSON | None = None
        self.healthy: bool | None = None
        self.kill_requested = False
        self.health_killed = False
        self.started_at = time.time()
        self._kill_grace = spec.kill_grace_seconds or DEFAULT_KILL_GRACE
        self._capabilities = {
            c.get("type") for c in framework.get("capabilities", []) if isinstance(c, dict)
        }
        self._killer: asyncio.Task[None] | None = None
        self._launch_done = asyncio.Event()

    @property
    def task_id(self) -> str:
        return self.spec.task_id

    @property
    def container_id(self) -> str:
        return self.spec.container_id

    @property
    def sandbox(self) -> Path:
        return self.spec.sandbox

    def record(self) -> JSON:
        """The checkpointed form (see ``checkpoint``)."""
        return {
            "framework": self.framework,
            "task": self.task,
            "container_id": self.container_id,
            "containerizer": self.containerizer.name,
            "sandbox": str(self.sandbox),
            "state": self.state.value,
            "launched": None if self.launched is None else _launched_json(self.launched),
            "kill_requested": self.kill_requested,
            "latest_status": self.latest_status,
        }

    # ------------------------------------------------------------------ reporting

    def _status(
        self,
        state: TaskState,
        *,
        reason: Reason | None = None,
        message: str | None = None,
    ) -> JSON:
        status: JSON = {
            "task_id": id_of(self.task_id),
            "state": state.value,
            "source": Source.EXECUTOR.value,
            "agent_id": id_of(self.ctx.agent_id),
            "executor_id": id_of(self.spec.executor_id),
            "timestamp": time.time(),
            "uuid": new_uuid(),
        }
        if reason is not None:
            status["reason"] = reason.value
        if message:
            status["message"] = message
        if self.healthy is not None:
            status["healthy"] = self.healthy
        container_status: JSON = {"container_id": id_of(self.container_id)}
        if self.launched is not None:
            if self.launched.pid is not None:
                container_status["executor_pid"] = self.launched.pid
            ip = self.launched.ip_address or self.agent_ip
            container_status["network_infos"] = [
                {"ip_addresses": [{"protocol": "IPv4", "ip_address": ip}]}
            ]
        status["container_status"] = container_status
        labels = self.task.get("labels")
        if isinstance(labels, dict):
            status["labels"] = labels
        return status

    def report(
        self, state: TaskState, *, reason: Reason | None = None, message: str | None = None
    ) -> None:
        self.state = state
        status = self._status(state, reason=reason, message=message)
        self.latest_status = status
        self.ctx.checkpoint(self, state.is_terminal)
        self.ctx.report(self.framework_id, status)

    # ------------------------------------------------------------------ life

    async def run(self) -> None:
        """Launch (unless recovered), watch until the container ends, report the end."""
        try:
            if self.launched is None:
                if not await self._launch():
                    return
            elif self.state in (TaskState.STAGING, TaskState.STARTING):
                self.report(TaskState.RUNNING)
            self._launch_done.set()
            if self.kill_requested and self._killer is None:
                self._killer = asyncio.create_task(self._kill_sequence())
            await self._watch()
        finally:
            self._launch_done.set()
            if self._killer is not None and not self._killer.done():
                self._killer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._killer

    async def _launch(self) -> bool:
        self.report(TaskState.STARTING)
        try:
            launched = await self.containerizer.launch(self.spec)
        except LaunchError as e:
            self.report(TaskState.FAILED, reason=Reason.CONTAINER_LAUNCH_FAILED, message=str(e))
            self.ctx.finished(self)
            return False
        self.launched = launched
        self.ctx.checkpoint(self, True)
        if self.kill_requested:
            # Killed while launching: stop it now rather than report it running.
            await self.containerizer.destroy(self.container_id)
            self.report(
                TaskState.KILLED,
                reason=Reason.TASK_KILLED_DURING_LAUNCH,
                message="Task killed during launch",
            )
            self.ctx.finished(self)
            return False
        self.report(TaskState.RUNNING)
        return True

    async def _watch(self) -> None:
        async with asyncio.TaskGroup() as tg:
            watchers = []
            checker = self._health_checker()
            if checker is not None:
                watchers.append(tg.create_task(checker.run()))
            deadline = _max_completion_seconds(self.task)
            if deadline is not None:
                watchers.append(tg.create_task(self._deadline(deadline)))
            try:
                term = await self.containerizer.wait(self.container_id)
            finally:
                for w in watchers:
                    w.cancel()
        state, reason, message = termination_outcome(
            term, killed=self.kill_requested, health_killed=self.health_killed
        )
        if self.health_killed:
            self.healthy = False
        await self.containerizer.destroy(self.container_id)
        self.report(state, reason=reason, message=message)
        self.ctx.finished(self)

    async def _deadline(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, self.started_at + seconds - time.time()))
        log.info("task %s reached its max_completion_time", self.task_id)
        self.kill()

    def _health_checker(self) -> HealthChecker | None:
        raw = self.task.get("health_check")
        if not isinstance(raw, dict):
            return None
        try:
            spec = parse_health_check(raw)
        except InvalidInput as e:
            log.warning("task %s: ignoring invalid health check: %s", self.task_id, e)
            return None
        return HealthChecker(
            spec,
            self._health_target(),
            on_health_change=self._health_changed,
            on_kill=self._health_kill,
        )

    def _health_target(self) -> Target:
        container_ports = {m.container_port: m.host_port for m in self.spec.port_mappings}
        bridged = self.launched is not None and self.launched.ip_address is not None

        def translate(port: int) -> tuple[str, int]:
            # Bridged containers are probed on their own address at the container port;
            # a host port given instead is probed on the host.
            assert self.launched is not None
            if bridged and port in container_ports and self.launched.ip_address:
                return self.launched.ip_address, port
            return "127.0.0.1", port

        async def run_command(command: Mapping[str, Any], timeout: float) -> int:
            return await self.containerizer.run_command(self.container_id, command, timeout=timeout)

        return Target(address=translate, run_command=run_command)

    def _health_changed(self, healthy: bool) -> None:
        if self.state.is_terminal:
            return
        self.healthy = healthy
        self.report(self.state, reason=Reason.TASK_HEALTH_CHECK_STATUS_UPDATED)

    def _health_kill(self, message: str) -> None:
        log.info("task %s failed its health check: %s", self.task_id, message)
        self.health_killed = True
        self.kill()

    # ------------------------------------------------------------------ killing

    def kill(self, grace_seconds: float | None = None) -> None:
        """Ask the task to stop: SIGTERM, then SIGKILL after the grace period."""
        if self.state.is_terminal or self._killer is not None:
            return
        if grace_seconds is not None:
            self._kill_grace = grace_seconds
        self.kill_requested = True
        self.ctx.checkpoint(self, True)
        if self.launched is None:
            return  # the launch sees the request and stops the container itself
        self._killer = asyncio.create_task(self._kill_sequence())

    async def _kill_sequence(self) -> None:
        try:
            if "TASK_KILLING_STATE" in self._capabilities:
                self.report(TaskState.KILLING)
            await self.containerizer.signal(self.container_id, signal.SIGTERM)
            await asyncio.sleep(self._kill_grace)
            log.info(
                "task %s ignored SIGTERM for %.1fs; killing it", self.task_id, self._kill_grace
            )
            await self.containerizer.signal(self.container_id, signal.SIGKILL)
        except ContainerizerError as e:
            # A signal that cannot be delivered must not leave the task running.
            log.warning("task %s: %s; destroying its container", self.task_id, e)
            await self.containerizer.destroy(self.container_id)


def _max_completion_seconds(task: JSON) -> float | None:
    limit = task.get("max_completion_time")
    if isinstance(limit, dict) and isinstance(limit.get("nanoseconds"), int | float):
        return max(0.0, float(limit["nanoseconds"]) / 1e9)
    return None


def _launched_json(launched: Launched) -> JSON:
    return {
        "container_id": launched.container_id,
        "pid": launched.pid,
        "docker_id": launched.docker_id,
        "ip_address": launched.ip_address,
    }


def launched_from_json(data: Any) -> Launched | None:
    if not isinstance(data, dict) or not isinstance(data.get("container_id"), str):
        return None
    return Launched(
        container_id=data["container_id"],
        pid=data.get("pid"),
        docker_id=data.get("docker_id"),
        ip_address=data.get("ip_address"),
    )
