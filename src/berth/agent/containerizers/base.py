"""The containerizer interface, shared by the Docker and process containerizers.

A containerizer runs one ``LaunchSpec`` per container id and can find its containers
again after the agent restarts. The agent's executor is its only caller:

    launch(spec) -> Launched          checkpoint Launched, report TASK_RUNNING
    wait(id)     -> Termination       report the terminal state
    signal(id, SIGTERM) ... destroy(id)   the kill policy (grace period in between)
    usage(id)    -> Usage             /monitor/statistics and metrics
    recover(records) after a restart  adopt what still runs, destroy what nobody knows

Every method may be called for a container that already ended; none of them hangs on a
dead Docker Engine or a stuck registry for longer than its documented timeout.
"""

from __future__ import annotations

import signal as _signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from berth.agent.launch import CommandSpec, LaunchSpec, command_info
from berth.core.errors import InvalidInput

BERTH_LABEL_AGENT = "berth.agent_id"
BERTH_LABEL_CONTAINER = "berth.container_id"
BERTH_LABEL_TASK = "berth.task_id"
BERTH_LABEL_FRAMEWORK = "berth.framework_id"


class ContainerizerError(Exception):
    """The container runtime failed to do what was asked; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LaunchError(ContainerizerError):
    """The container could not be started (the message goes into TASK_FAILED)."""


@dataclass(frozen=True, slots=True)
class Launched:
    """What the agent checkpoints and reports (``container_status``) for a container."""

    container_id: str
    pid: int | None  # process containerizer: the shim's pid; docker: the container's init pid
    docker_id: str | None
    ip_address: str | None  # container IP for BRIDGE/USER, None for host networking


@dataclass(frozen=True, slots=True)
class Termination:
    """How a container ended."""

    exit_code: int | None  # None when killed by a signal or unknown
    signal: int | None
    oom_killed: bool  # the memory limit was exceeded
    message: str  # e.g. "Command exited with status 0"

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.oom_killed


@dataclass(frozen=True, slots=True)
class Usage:
    """Resource usage of a running container, in Mesos ``ResourceStatistics`` terms."""

    timestamp: float
    cpus_user_time_secs: float
    cpus_system_time_secs: float
    cpus_limit: float | None
    mem_rss_bytes: int
    mem_limit_bytes: int | None

    @property
    def cpu_seconds(self) -> float:
        return self.cpus_user_time_secs + self.cpus_system_time_secs


@dataclass(frozen=True, slots=True)
class RecoveryRecord:
    """What the agent checkpointed about a container, handed back to ``recover()``."""

    container_id: str
    task_id: str
    framework_id: str
    launched: Launched
    runtime_dir: Path


@runtime_checkable
class Containerizer(Protocol):
    """Runs containers for one agent. Implementations: docker, process.

    Contract (checked by tests/integration/test_containerizers.py):

    * ``launch`` returns once the container is started, or raises ``LaunchError``
      (image pull failure, bad image, engine error, command that cannot be executed),
      within bounded time.
    * ``wait`` resolves when the container ends, also for recovered containers, and
      also when it ended while the agent was down (if the exit is still knowable).
      It may be called any number of times, before or after ``destroy``.
    * ``signal`` reaches the whole container; it is a no-op for a container that ended.
    * ``destroy`` kills everything in the container and releases what it held; it is
      idempotent. Runtime directories are kept (the agent garbage-collects them).
    * ``recover`` adopts running containers named in ``known`` (never restarts them),
      and destroys containers this agent started that are not in ``known``.
    * ``run_command`` runs a health-check command inside a running container.
    * ``close`` stops background work; containers keep running.
    """

    name: str

    def runtime_dir(self, container_id: str) -> Path:
        """Where the containerizer keeps its per-container files (checkpoint this)."""
        ...

    async def launch(self, spec: LaunchSpec) -> Launched: ...

    async def wait(self, container_id: str) -> Termination: ...

    async def signal(self, container_id: str, sig: int) -> None: ...

    async def destroy(self, container_id: str) -> None: ...

    async def usage(self, container_id: str) -> Usage: ...

    async def run_command(
        self, container_id: str, command: CommandSpec | Mapping[str, Any], *, timeout: float
    ) -> int:
        """Run ``command`` where the task lives (COMMAND health checks); its exit status.

        ``command`` is a ``CommandSpec`` or a Mesos ``CommandInfo`` JSON object (whose
        ``environment`` is added to the task's).

        Docker: ``docker exec`` in the container; process: a host process in the sandbox
        with the task's environment. Raises ``TimeoutError`` after ``timeout`` seconds
        (the command is killed where the runtime allows) and ``ContainerizerError`` if
        the container is not running.
        """
        ...

    async def recover(self, known: Sequence[RecoveryRecord]) -> dict[str, Launched]: ...

    async def close(self) -> None: ...


def as_command(command: CommandSpec | Mapping[str, Any]) -> tuple[CommandSpec, dict[str, str]]:
    """A command to run and its extra environment; a bad one is a ``ContainerizerError``."""
    if isinstance(command, CommandSpec):
        return command, {}
    try:
        return command_info(command)
    except InvalidInput as e:
        raise ContainerizerError(str(e)) from e


def exit_message(exit_code: int | None, sig: int | None) -> str:
    """Mesos-style words for how a command ended.

    >>> exit_message(0, None), exit_message(None, 15)
    ('Command exited with status 0', 'Command terminated with signal Terminated')
    """
    if sig is not None:
        try:
            name = _signal.strsignal(sig) or f"signal {sig}"
        except ValueError:
            name = f"signal {sig}"
        return f"Command terminated with signal {name}"
    if exit_code is not None:
        return f"Command exited with status {exit_code}"
    return "Command terminated for an unknown reason"


def oom_message(mem_limit_bytes: int | None) -> str:
    """The message for a container the kernel OOM-killed.

    >>> oom_message(32 * 2**20)
    'Memory limit exceeded: the container was OOM-killed at its limit of 32 MB'
    """
    if mem_limit_bytes is None:
        return "Memory limit exceeded: the container was OOM-killed"
    return (
        "Memory limit exceeded: the container was OOM-killed at its limit of "
        f"{mem_limit_bytes // 2**20} MB"
    )
