"""Docker containerizer: tasks as Docker Engine containers, through aiodocker.

A container is named ``mesos-<container_id>`` and labelled ``berth.agent_id``,
``berth.container_id``, ``berth.task_id`` and ``berth.framework_id``; the labels are how
``recover()`` finds this agent's containers after a restart (adopting known ones,
removing the others). Docker's init (``HostConfig.Init``) is PID 1, so the task gets
SIGTERM and its zombies are reaped.

Output: the container's log stream (stdout and stderr demultiplexed, with timestamps) is
appended to the sandbox files ``stdout`` and ``stderr``. After each chunk the position
(last timestamp and how many lines carried it, per stream) is checkpointed in
``<runtime_dir>/logs.json``, so a restarted agent resumes where it stopped without
repeating lines. When the container ends, ``termination.json`` records how, so
``wait()`` keeps answering after ``destroy()`` removed the container.

Images: pulled only when missing locally or when ``force_pull`` asks; credentials come
from ``~/.docker/config.json`` (``auths`` entries; credential helpers are not consulted).

The container definition itself is built by the pure ``docker_config`` module.

aiodocker has no public call for a raw (binary-safe, demultiplexed) log stream, a
one-shot stats sample or the events stream, and its own ``wait`` leaks the connection
when cancelled; those calls go through its ``_query`` request helper (``_engine_json``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import shutil
import signal
import struct
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiodocker
import aiohttp
from aiodocker.exceptions import DockerError

from berth.agent.containerizers.base import (
    BERTH_LABEL_AGENT,
    BERTH_LABEL_CONTAINER,
    ContainerizerError,
    Launched,
    LaunchError,
    RecoveryRecord,
    Termination,
    Usage,
    as_command,
)
from berth.agent.containerizers.docker_config import (
    container_config,
    parse_timestamp_ns,
    termination_from_state,
)
from berth.agent.launch import DOCKER_SANDBOX, CommandSpec, LaunchSpec, process_argv
from berth.core.errors import InvalidInput, NotFound
from berth.core.jsonutil import dumps, loads

log = logging.getLogger(__name__)

T = TypeVar("T")
_STREAMS = {1: "stdout", 2: "stderr"}
_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


# -- the containerizer (effects) -------------------------------------------------------


async def docker_available(url: str | None = None, timeout: float = 5.0) -> bool:
    """True if a Docker Engine answers at ``url`` (default: ``DOCKER_HOST`` or the socket)."""
    try:
        docker = aiodocker.Docker(url=url)
    except (ValueError, OSError):
        return False  # no socket to talk to
    try:
        async with asyncio.timeout(timeout):
            await docker.version()
        return True
    except (DockerError, aiohttp.ClientError, TimeoutError, OSError):
        return False
    finally:
        await docker.close()


@dataclass(slots=True)
class _Container:
    container_id: str
    docker_id: str
    runtime_dir: Path
    sandbox: Path | None
    mem_bytes: int | None
    cpus: float | None
    exited: asyncio.Future[Termination] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)  # the engine says it ended
    logs_done: asyncio.Event = field(default_factory=asyncio.Event)
    killed: bool = False  # destroy() sent SIGKILL: a 137 is ours, not the OOM killer's


def _write_json_atomic(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(dumps(value))
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return loads(path.read_bytes())
    except (OSError, ValueError):
        return None


class DockerContainerizer:
    """Runs ``LaunchSpec``s with a Docker image as Docker Engine containers."""

    name = "docker"

    def __init__(
        self,
        agent_id: str,
        work_dir: Path,
        *,
        docker_url: str | None = None,
        api_timeout: float = 60.0,
        pull_timeout: float = 600.0,
        docker_config: Path | None = None,
    ) -> None:
        self.agent_id = agent_id
        self.work_dir = work_dir
        self.docker_url = docker_url
        self.api_timeout = api_timeout
        self.pull_timeout = pull_timeout
        self.docker_config = (
            docker_config if docker_config is not None else Path.home() / ".docker" / "config.json"
        )
        self._docker: aiodocker.Docker | None = None
        self._containers: dict[str, _Container] = {}
        work_dir.mkdir(parents=True, exist_ok=True)

    def runtime_dir(self, container_id: str) -> Path:
        return self.work_dir / container_id

    def _client(self) -> aiodocker.Docker:
        if self._docker is None:
            self._docker = engine_client(self.docker_url)
        return self._docker

    async def _api(self, what: str, call: Awaitable[T]) -> T:
        """One bounded Engine API call; failures become ``LaunchError`` naming ``what``."""
        try:
            async with asyncio.timeout(self.api_timeout):
                return await call
        except TimeoutError:
            raise LaunchError(
                f"{what}: Docker Engine did not answer in {self.api_timeout:g}s"
            ) from None
        except DockerError as e:
            raise LaunchError(f"{what}: {e.message}") from e
        except aiohttp.ClientError as e:
            raise LaunchError(f"{what}: {e}") from e

    # -- launch ----------------------------------------------------------------------

    async def launch(self, spec: LaunchSpec) -> Launched:
        if spec.docker is None:
            raise LaunchError("the docker containerizer runs images; this task names none")
        if spec.container_id in self._containers:
            raise LaunchError(f"container {spec.container_id} already exists")
        config = container_config(spec, self.agent_id)
        runtime = self.runtime_dir(spec.container_id)
        runtime.mkdir(parents=True, exist_ok=True)
        spec.sandbox.mkdir(parents=True, exist_ok=True)
        if spec.docker.force_pull:
            await self._ensure_image(spec.docker.image, force_pull=True)

        docker = self._client()
        name = spec.container_name
        try:
            # Create first and pull only when the Engine lacks the image: a local image
            # (the common case) costs no extra round trip.
            async with asyncio.timeout(self.api_timeout):
                container = await docker.containers.create(config, name=name)
        except DockerError as e:
            if e.status != 404:
                raise LaunchError(f"Failed to create container {name}: {e.message}") from e
            await self._ensure_image(spec.docker.image, force_pull=False)
            container = await self._api(
                f"Failed to create container {name}", docker.containers.create(config, name=name)
            )
        except aiohttp.ClientError as e:
            raise LaunchError(f"Failed to create container {name}: {e}") from e
        except TimeoutError:
            raise LaunchError(
                f"Failed to create container {name}: Docker Engine timed out"
            ) from None
        try:
            await self._api(f"Failed to start container {name}", container.start())
            info = await self._api(f"Failed to inspect container {name}", container.show())
        except LaunchError:
            with contextlib.suppress(DockerError, TimeoutError, aiohttp.ClientError):
                async with asyncio.timeout(self.api_timeout):
                    await container.delete(force=True, v=True)
            raise
        await _until_init_runs_task((info.get("State") or {}).get("Pid"))
        mem = config["HostConfig"].get("Memory")
        _write_json_atomic(
            runtime / "container.json",
            {
                "agent_id": self.agent_id,
                "container_id": spec.container_id,
                "docker_id": container.id,
                "sandbox": str(spec.sandbox),
                "mem_bytes": mem,
                "cpus": spec.cpus,
            },
        )
        state = _Container(spec.container_id, container.id, runtime, spec.sandbox, mem, spec.cpus)
        self._containers[spec.container_id] = state
        self._follow(state)
        return _launched(spec.container_id, info)

    async def _ensure_image(self, image: str, *, force_pull: bool) -> None:
        docker = self._client()
        if not force_pull:
            try:
                async with asyncio.timeout(self.api_timeout):
                    await docker.images.inspect(image)
                return
            except DockerError as e:
                if e.status != 404:
                    raise LaunchError(f"Failed to inspect image {image}: {e.message}") from e
            except aiohttp.ClientError as e:
                raise LaunchError(f"Failed to inspect image {image}: {e}") from e
            except TimeoutError:
                raise LaunchError(
                    f"Failed to inspect image {image}: Docker Engine timed out"
                ) from None
        ref, auth = self._pull_auth(image)
        try:
            async with asyncio.timeout(self.pull_timeout):
                await docker.images.pull(ref, auth=auth)
        except DockerError as e:
            raise LaunchError(f"Failed to pull image {image}: {e.message}") from e
        except aiohttp.ClientError as e:
            raise LaunchError(f"Failed to pull image {image}: {e}") from e
        except TimeoutError:
            raise LaunchError(
                f"Failed to pull image {image}: not done after {self.pull_timeout:g}s"
            ) from None

    def _pull_auth(self, image: str) -> tuple[str, dict[str, str] | None]:
        """The reference to pull and its credentials from the Docker CLI config, if any."""
        config = _read_json(self.docker_config)
        auths = config.get("auths") if isinstance(config, dict) else None
        if not isinstance(auths, dict) or not auths:
            return image, None
        first, _, rest = image.partition("/")
        has_registry = bool(rest) and ("." in first or ":" in first or first == "localhost")
        if has_registry:
            keys: Sequence[str] = (first, f"https://{first}", f"http://{first}")
            ref = image
        else:
            keys = _HUB_KEYS
            # aiodocker needs a registry host in the name to attach credentials.
            ref = f"docker.io/{image}" if "/" in image else f"docker.io/library/{image}"
        for key in keys:
            entry = auths.get(key) or auths.get(key.rstrip("/"))
            if isinstance(entry, dict):
                if entry.get("identitytoken"):
                    return ref, {"identitytoken": str(entry["identitytoken"])}
                if entry.get("auth"):
                    with contextlib.suppress(ValueError):
                        base64.b64decode(entry["auth"], validate=True)
                        return ref, {"auth": str(entry["auth"])}
        return image, None

    # -- following a container ---------------------------------------------------------

    def _follow(self, state: _Container) -> None:
        """Start the log follower and the exit watcher of a container."""
        state.tasks.append(
            asyncio.create_task(self._follow_logs(state), name=f"logs-{state.container_id}")
        )
        state.tasks.append(
            asyncio.create_task(self._watch_exit(state), name=f"exit-{state.container_id}")
        )

    async def _watch_exit(self, state: _Container) -> None:
        try:
            await self._watch_exit_once(state)
        except Exception as e:
            # A bug or an engine in a state we do not understand must not leave wait()
            # hanging forever: report the exit as unknown, loudly.
            log.exception("lost track of container %s", state.container_id)
            if not state.exited.done():
                state.exited.set_result(
                    Termination(None, None, False, f"Lost track of the container: {e}")
                )

    async def _watch_exit_once(self, state: _Container) -> None:
        docker = self._client()
        container = docker.containers.container(state.docker_id)
        info: dict[str, Any] | None = None
        delay = 0.1
        while True:
            try:
                await _engine_json(
                    docker,
                    f"containers/{state.docker_id}/wait",
                    method="POST",
                    params={"condition": "not-running"},
                )
                async with asyncio.timeout(self.api_timeout):
                    info = await container.show()
                break
            except DockerError as e:
                if e.status == 404:
                    break  # removed behind our back
                log.warning("waiting for container %s: %s", state.container_id, e.message)
            except (aiohttp.ClientError, TimeoutError) as e:
                log.warning("waiting for container %s: %s", state.container_id, e)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        state.stopped.set()  # the log follower drains what is left and finishes
        if info is None:
            termination = self._recorded(state) or Termination(
                None, None, False, "The container disappeared; its exit status is unknown"
            )
        else:
            status = dict(info.get("State", {}))
            if (
                status.get("ExitCode") == 128 + signal.SIGKILL
                and not status.get("OOMKilled")
                and state.mem_bytes
                and not state.killed
            ):
                # Docker can process the exit before the OOM event of the same
                # container and then report OOMKilled=false; the "oom" event still
                # comes, so listen for it briefly before calling this a plain SIGKILL.
                status["OOMKilled"] = await self._late_oom(state.docker_id, status)
            termination = termination_from_state(status, state.mem_bytes)
        # The output must be complete in the sandbox before anyone hears the task ended.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                await state.logs_done.wait()
        _write_json_atomic(
            state.runtime_dir / "termination.json",
            {
                "exit_code": termination.exit_code,
                "signal": termination.signal,
                "oom_killed": termination.oom_killed,
                "message": termination.message,
            },
        )
        if not state.exited.done():
            state.exited.set_result(termination)

    async def _late_oom(self, docker_id: str, status: Mapping[str, Any]) -> bool:
        """Did the Engine log an "oom" event for the container (waiting up to ~2 s)?"""
        try:
            since = parse_timestamp_ns(str(status.get("StartedAt", ""))) // 1_000_000_000 - 1
        except ValueError:
            since = int(time.time()) - 3600
        params = {
            "since": str(since),
            "until": str(int(time.time()) + 2),
            "filters": dumps(
                {"container": [docker_id], "type": ["container"], "event": ["oom"]}
            ).decode(),
        }
        try:
            async with (
                asyncio.timeout(10),
                self._client()._query("events", params=params, timeout=_LONG_POLL) as response,
            ):
                try:
                    async for line in response.content:
                        event = loads(line) if line.strip() else {}
                        if (
                            isinstance(event, dict)
                            and event.get("status", event.get("Action")) == "oom"
                        ):
                            return True
                finally:
                    response.close()
        except (DockerError, aiohttp.ClientError, TimeoutError, ValueError) as e:
            log.warning("could not read the OOM events of %s: %s", docker_id, e)
        return False

    @staticmethod
    def _recorded(state: _Container) -> Termination | None:
        record = _read_json(state.runtime_dir / "termination.json")
        if not isinstance(record, dict):
            return None
        return Termination(
            record.get("exit_code"),
            record.get("signal"),
            bool(record.get("oom_killed")),
            str(record.get("message", "")),
        )

    async def _follow_logs(self, state: _Container) -> None:
        try:
            if state.sandbox is None:
                return
            follower = _LogFollower(
                self._client(), state.docker_id, state.sandbox, state.runtime_dir
            )
            await follower.run(state.stopped)
        except Exception:
            log.exception("following the output of container %s failed", state.container_id)
        finally:
            state.logs_done.set()

    # -- the rest of the interface -----------------------------------------------------

    def _get(self, container_id: str) -> _Container:
        state = self._containers.get(container_id)
        if state is None:
            raise NotFound(f"unknown container {container_id}")
        return state

    async def wait(self, container_id: str) -> Termination:
        return await asyncio.shield(self._get(container_id).exited)

    async def signal(self, container_id: str, sig: int) -> None:
        state = self._containers.get(container_id)
        if state is None or state.exited.done():
            return
        container = self._client().containers.container(state.docker_id)
        # docker-init (PID 1) forwards the signal to the task.
        try:
            async with asyncio.timeout(self.api_timeout):
                await container.kill(signal=str(sig))
        except DockerError as e:
            if e.status in (404, 409):  # gone, or no longer running: nothing to signal
                return
            raise ContainerizerError(f"Failed to signal {container_id}: {e.message}") from e
        except (TimeoutError, aiohttp.ClientError) as e:
            raise ContainerizerError(f"Failed to signal {container_id}: {e!r}") from e

    async def destroy(self, container_id: str) -> None:
        state = self._containers.get(container_id)
        docker = self._client()
        name = f"mesos-{container_id}"
        if state is not None and not state.exited.done():
            state.killed = True
            container = docker.containers.container(state.docker_id)
            with contextlib.suppress(DockerError, TimeoutError, aiohttp.ClientError):
                async with asyncio.timeout(self.api_timeout):
                    await container.kill()
            # Let the exit watcher record the real exit before the container goes away.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.api_timeout):
                    await asyncio.shield(state.exited)
        target = state.docker_id if state is not None else name
        try:
            async with asyncio.timeout(self.api_timeout):
                await docker.containers.container(target).delete(force=True, v=True)
        except DockerError as e:
            # 404: already gone; 409: someone is removing it already (same outcome).
            if e.status not in (404, 409):
                raise ContainerizerError(f"Failed to remove container {name}: {e.message}") from e
        except TimeoutError:
            raise ContainerizerError(
                f"Failed to remove container {name}: Docker Engine timed out"
            ) from None

    async def usage(self, container_id: str) -> Usage:
        state = self._get(container_id)
        now = time.time()
        stats: dict[str, Any] = {}
        if not state.exited.done():
            with contextlib.suppress(DockerError, TimeoutError, aiohttp.ClientError):
                async with asyncio.timeout(self.api_timeout):
                    stats = await _engine_json(
                        self._client(),
                        f"containers/{state.docker_id}/stats",
                        params={"stream": "false", "one-shot": "true"},
                    )
        cpu = (stats.get("cpu_stats") or {}).get("cpu_usage") or {}
        memory = stats.get("memory_stats") or {}
        mem_stats = memory.get("stats") or {}
        rss = mem_stats.get("rss", mem_stats.get("anon", 0))
        return Usage(
            timestamp=now,
            cpus_user_time_secs=cpu.get("usage_in_usermode", 0) / 1e9,
            cpus_system_time_secs=cpu.get("usage_in_kernelmode", 0) / 1e9,
            cpus_limit=state.cpus,
            mem_rss_bytes=int(rss),
            mem_limit_bytes=state.mem_bytes,
        )

    async def run_command(
        self, container_id: str, command: CommandSpec | Mapping[str, Any], *, timeout: float
    ) -> int:
        state = self._get(container_id)
        if state.exited.done():
            raise ContainerizerError(f"container {container_id} is not running")
        spec, extra_env = as_command(command)
        try:
            program, argv = process_argv(spec)
        except InvalidInput as e:
            raise ContainerizerError(str(e)) from e
        container = self._client().containers.container(state.docker_id)
        # On timeout the exec'd process is left to finish on its own: the Engine API
        # has no call to kill an exec instance.
        async with asyncio.timeout(timeout):
            try:
                execution = await container.exec(
                    [program, *argv[1:]],
                    stdout=True,
                    stderr=True,
                    user=spec.user or "",
                    environment=extra_env or None,
                )
                async with execution.start(detach=False) as stream:
                    while await stream.read_out() is not None:
                        pass
                info = await execution.inspect()
            except DockerError as e:
                raise ContainerizerError(f"exec in {container_id} failed: {e.message}") from e
        code = info.get("ExitCode")
        return code if isinstance(code, int) else -1

    async def recover(self, known: Sequence[RecoveryRecord]) -> dict[str, Launched]:
        docker = self._client()
        try:
            async with asyncio.timeout(self.api_timeout):
                listed = await docker.containers.list(
                    all=True, filters={"label": [f"{BERTH_LABEL_AGENT}={self.agent_id}"]}
                )
        except (DockerError, TimeoutError, aiohttp.ClientError) as e:
            raise ContainerizerError(f"Failed to list this agent's containers: {e}") from e
        mine: dict[str, Any] = {}
        for container in listed:
            labels = container["Labels"] or {}
            if labels.get(BERTH_LABEL_AGENT) == self.agent_id and BERTH_LABEL_CONTAINER in labels:
                mine[labels[BERTH_LABEL_CONTAINER]] = container

        recovered: dict[str, Launched] = {}
        for record in known:
            own = self.runtime_dir(record.container_id)
            runtime = own if own.is_dir() else record.runtime_dir
            saved = _read_json(runtime / "container.json") or {}
            found = mine.get(record.container_id)
            if found is None:
                # Gone from the engine; its exit is knowable only if we recorded it.
                state = _Container(
                    record.container_id,
                    record.launched.docker_id or "",
                    runtime,
                    None,
                    saved.get("mem_bytes"),
                    saved.get("cpus"),
                )
                termination = self._recorded(state)
                if termination is not None:
                    state.exited.set_result(termination)
                    self._containers[record.container_id] = state
                    recovered[record.container_id] = record.launched
                continue
            try:
                async with asyncio.timeout(self.api_timeout):
                    info = await found.show()
            except (DockerError, TimeoutError, aiohttp.ClientError) as e:
                log.warning("cannot inspect container %s: %s", record.container_id, e)
                continue
            sandbox = saved.get("sandbox") or _sandbox_of(info)
            state = _Container(
                record.container_id,
                info["Id"],
                runtime,
                Path(sandbox) if sandbox else None,
                info.get("HostConfig", {}).get("Memory") or None,
                saved.get("cpus"),
            )
            self._containers[record.container_id] = state
            self._follow(state)
            running = bool((info.get("State") or {}).get("Running"))
            # An ended container has no pid any more; the checkpointed record is the truth.
            recovered[record.container_id] = (
                _launched(record.container_id, info) if running else record.launched
            )

        known_ids = {record.container_id for record in known}
        for container_id, container in mine.items():
            if container_id in known_ids:
                continue
            log.info("removing orphan container %s", container_id)
            with contextlib.suppress(DockerError, TimeoutError, aiohttp.ClientError):
                async with asyncio.timeout(self.api_timeout):
                    await container.delete(force=True, v=True)
            orphan_dir = self.runtime_dir(container_id)
            if orphan_dir.is_dir():
                shutil.rmtree(orphan_dir, ignore_errors=True)
        return recovered

    async def close(self) -> None:
        tasks = [t for state in self._containers.values() for t in state.tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for state in self._containers.values():
            if not state.exited.done():
                state.exited.cancel()
        self._containers.clear()
        if self._docker is not None:
            await self._docker.close()
            await self._docker.session.close()
            self._docker = None


def engine_client(url: str | None) -> aiodocker.Docker:
    """An Engine API client without a cap on concurrent connections.

    Every running container holds two connections for as long as it runs (its log
    stream and its wait for exit); aiohttp's default cap of 100 would let 50 containers
    starve every other call (launches time out, kills never arrive).
    """
    host = url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if host.startswith("unix://"):
        connector: aiohttp.BaseConnector = aiohttp.UnixConnector(host[len("unix://") :], limit=0)
    else:
        connector = aiohttp.TCPConnector(limit=0)
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout())
    return aiodocker.Docker(url=host, session=session)


_INIT_NAMES = ("docker-init", "tini", "tini-static")


async def _until_init_runs_task(pid: int | None, timeout: float = 10.0) -> None:
    """Wait (bounded) until the container's init has forked the task.

    docker-init (tini) blocks the signals it forwards before it forks the task; a signal
    that reaches it earlier is dropped, because PID 1 of a namespace ignores signals it
    has no handler for. So a SIGTERM sent right after ``start`` could be lost on a busy
    host; once init has a child it is safe. Skipped when init is not visible in our
    /proc (a remote engine, another pid namespace).
    """
    if not pid:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _init_state(pid) == "starting" and loop.time() < deadline:
        await asyncio.sleep(0.005)


def _init_state(pid: int) -> str:
    """``starting`` while the init process ``pid`` has no child yet, else ``other``."""
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() not in _INIT_NAMES:
            return "other"
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return "other"
    return "other" if children.strip() else "starting"


_LONG_POLL = aiohttp.ClientTimeout(total=None, sock_read=None, sock_connect=30)


async def _engine_json(
    docker: aiodocker.Docker, path: str, *, method: str = "GET", params: dict[str, str]
) -> Any:
    """A long-running Engine call whose response is closed even when cancelled.

    (aiodocker's own helpers leave the connection dangling if cancelled while the
    body is outstanding, which is exactly where ``wait`` spends its life.)
    """
    async with docker._query(path, method=method, params=params, timeout=_LONG_POLL) as response:
        try:
            return loads(await response.read())
        finally:
            response.close()


def _launched(container_id: str, info: Mapping[str, Any]) -> Launched:
    pid = (info.get("State") or {}).get("Pid") or None
    networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
    mode = (info.get("HostConfig") or {}).get("NetworkMode", "")
    ip = None
    if mode not in ("host", "none"):
        for net in networks.values():
            if net and net.get("IPAddress"):
                ip = net["IPAddress"]
                break
    return Launched(container_id, pid, info.get("Id"), ip)


def _sandbox_of(info: Mapping[str, Any]) -> str | None:
    for mount in info.get("Mounts") or []:
        if mount.get("Destination") == DOCKER_SANDBOX:
            source = mount.get("Source")
            return str(source) if source else None
    return None


class _LogFollower:
    """Appends a container's output to the sandbox files, resumable without repeats.

    The checkpoint per stream is ``[last_timestamp_ns, lines_seen_with_that_timestamp]``;
    Docker's ``since`` is inclusive, so on resume lines at or before the checkpoint are
    skipped (the count settles the rare lines sharing one nanosecond timestamp).
    """

    def __init__(self, docker: aiodocker.Docker, docker_id: str, sandbox: Path, runtime: Path):
        self.docker = docker
        self.docker_id = docker_id
        self.sandbox = sandbox
        self.checkpoint_path = runtime / "logs.json"
        saved = _read_json(self.checkpoint_path)
        self._replay: dict[str, tuple[int, int]] = {}
        self._skipped: dict[str, int] = {}
        self.position: dict[str, list[int]] = {
            stream: list(saved[stream])
            if isinstance(saved, dict) and isinstance(saved.get(stream), list)
            else [0, 0]
            for stream in _STREAMS.values()
        }

    async def run(self, stopped: asyncio.Event) -> None:
        """Follow the output until ``stopped`` (set by the exit watcher), then drain it.

        The exit watcher, not the log stream, decides that the container has ended: a
        follow stream is not guaranteed to close promptly at exit, while a non-follow
        read of a stopped container always ends, and Docker has copied all output to
        the log driver before it reports the container stopped.
        """
        delay = 0.1
        while not stopped.is_set():
            follow = asyncio.create_task(self._read(follow=True))
            stop = asyncio.create_task(stopped.wait())
            try:
                await asyncio.wait({follow, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
                follow.cancel()
                await asyncio.gather(follow, stop, return_exceptions=True)
            if follow.cancelled():
                break  # stopped while following: drain below
            error = follow.exception()
            if isinstance(error, DockerError) and error.status == 404:
                return
            if error is not None:
                if not isinstance(error, DockerError | aiohttp.ClientError | OSError):
                    raise error
                log.warning("log stream of %s broke: %s", self.docker_id, error)
            # The stream ended (the container is stopping, or the engine dropped us):
            # look again soon, unless the exit watcher says it is over.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stopped.wait()
            delay = min(delay * 2, 5.0)
        try:
            await self._read(follow=False)
        except (DockerError, aiohttp.ClientError, OSError) as e:
            log.warning("final read of the output of %s failed: %s", self.docker_id, e)

    def _since(self) -> str:
        earliest = min(ts for ts, _count in self.position.values())
        return f"{earliest // 1_000_000_000}.{earliest % 1_000_000_000:09d}"

    async def _read(self, *, follow: bool) -> None:
        """Append the output since the checkpoint; with ``follow``, until the stream ends."""
        params = {
            "stdout": "1",
            "stderr": "1",
            "follow": "1" if follow else "0",
            "timestamps": "1",
            "since": self._since(),
        }
        # Docker's `since` is inclusive: the lines at the checkpoint come again.
        self._replay = {stream: (ts, n) for stream, (ts, n) in self.position.items()}
        self._skipped = dict.fromkeys(self.position, 0)
        files = {name: (self.sandbox / name).open("ab") for name in _STREAMS.values()}
        try:
            async with self.docker._query(
                f"containers/{self.docker_id}/logs", params=params, timeout=_LONG_POLL
            ) as response:
                try:
                    buffer = b""
                    while True:
                        chunk = await response.content.readany()
                        if not chunk:
                            break
                        buffer += chunk
                        buffer = self._consume(buffer, files)
                        for f in files.values():
                            f.flush()
                        _write_json_atomic(self.checkpoint_path, self.position)
                finally:
                    response.close()
        finally:
            for f in files.values():
                f.close()

    def _consume(self, buffer: bytes, files: Mapping[str, Any]) -> bytes:
        """Write every complete frame in ``buffer``; return the incomplete rest."""
        offset = 0
        while len(buffer) - offset >= 8:
            kind, size = struct.unpack_from(">BxxxL", buffer, offset)
            if len(buffer) - offset - 8 < size:
                break
            payload = buffer[offset + 8 : offset + 8 + size]
            offset += 8 + size
            stream = _STREAMS.get(kind)
            if stream is None:
                continue
            stamp, _, data = payload.partition(b" ")
            try:
                ts = parse_timestamp_ns(stamp.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                files[stream].write(payload)  # not a timestamped frame: keep it, unplaced
                continue
            replay_ts, replay_count = self._replay[stream]
            if ts < replay_ts:
                continue  # written before the checkpoint
            if ts == replay_ts and self._skipped[stream] < replay_count:
                self._skipped[stream] += 1
                continue
            last_ts, seen = self.position[stream]
            self.position[stream] = [ts, seen + 1] if ts == last_ts else [ts, 1]
            files[stream].write(data)
        return buffer[offset:]
