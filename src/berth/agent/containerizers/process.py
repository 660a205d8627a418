"""Process containerizer: tasks as host processes, each in its own session and cgroup.

Each container gets a runtime directory ``<work_dir>/<container_id>/`` holding:

* ``container.json`` - who it belongs to (agent, task, framework), its limits;
* ``launch.json``    - what the shim runs (argv, env, sandbox files, cgroup paths);
* ``shim.json``      - written by the shim: its pid and start time, the task's pid;
* ``termination.json`` - written by the shim when the task has ended;
* ``shim.log``       - the shim's own stderr (empty unless something is badly wrong).

The shim (``shim.py``) is what makes restarts safe: it is the task's parent, it lives in
its own session, and it records the exit in ``termination.json``. After an agent restart
``wait()`` watches the shim through a pidfd (checked against its recorded start time, so
a recycled pid is never mistaken for it) and reads the file when the shim exits.
pidfds need Linux 5.3 or later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import shutil
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berth.agent.containerizers.base import (
    ContainerizerError,
    Launched,
    LaunchError,
    RecoveryRecord,
    Termination,
    Usage,
    as_command,
    exit_message,
    oom_message,
)
from berth.agent.containerizers.cgroups import CgroupError, Cgroups, CgroupVersion
from berth.agent.launch import CommandSpec, LaunchSpec, process_argv
from berth.core.commands import run_to_exit
from berth.core.errors import InvalidInput, NotFound
from berth.core.jsonutil import dumps, loads

log = logging.getLogger(__name__)

SHIM = Path(__file__).with_name("shim.py")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(slots=True)
class _Container:
    container_id: str
    runtime_dir: Path
    shim_pid: int | None = None
    shim_start: int | None = None
    child_pid: int | None = None
    cpus: float | None = None
    mem_bytes: int | None = None
    exited: asyncio.Future[Termination] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    pidfd: int | None = None


def _write_json_atomic(path: Path, value: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(dumps(value))
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def _reap(pid: int) -> None:
    """Collect the shim's exit status if it is our child (after a restart it is not)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


class ProcessContainerizer:
    """Runs ``LaunchSpec`` commands as host processes under the shim.

    >>> c = ProcessContainerizer("S0", Path("/var/lib/berth/agent/containers"))  # doctest: +SKIP
    """

    name = "process"

    def __init__(
        self,
        agent_id: str,
        work_dir: Path,
        *,
        cgroups: Cgroups | None = None,
        launch_timeout: float = 30.0,
    ) -> None:
        self.agent_id = agent_id
        self.work_dir = work_dir
        self.cgroups = cgroups if cgroups is not None else Cgroups()
        self.launch_timeout = launch_timeout
        self._containers: dict[str, _Container] = {}
        work_dir.mkdir(parents=True, exist_ok=True)

    def runtime_dir(self, container_id: str) -> Path:
        return self.work_dir / container_id

    # -- launch ----------------------------------------------------------------------

    async def launch(self, spec: LaunchSpec) -> Launched:
        if spec.docker is not None:
            raise LaunchError(
                f"the process containerizer cannot run images ({spec.docker.image}); "
                "use the docker containerizer"
            )
        if spec.command is None:
            raise LaunchError("nothing to run: the task has no command")
        if spec.container_id in self._containers:
            raise LaunchError(f"container {spec.container_id} already exists")
        try:
            program, argv = process_argv(spec.command)
        except InvalidInput as e:
            raise LaunchError(str(e)) from e
        user = spec.command.user
        if user:
            try:
                entry = pwd.getpwnam(user)
            except KeyError:
                raise LaunchError(f"unknown user {user!r}") from None
            if os.geteuid() != 0 and os.geteuid() != entry.pw_uid:
                raise LaunchError(f"cannot run as user {user!r}: the agent does not run as root")
        spec.sandbox.mkdir(parents=True, exist_ok=True)
        self._link_volumes(spec)
        if user and os.geteuid() == 0:
            _chown_tree(spec.sandbox, entry.pw_uid, entry.pw_gid)
        runtime = self.runtime_dir(spec.container_id)
        try:
            runtime.mkdir(parents=True)
        except FileExistsError:
            raise LaunchError(f"container {spec.container_id} already exists") from None
        mem_bytes = int(spec.mem_mb * 2**20) if spec.mem_mb else None
        state = _Container(spec.container_id, runtime, cpus=spec.cpus, mem_bytes=mem_bytes)
        _write_json_atomic(
            runtime / "container.json",
            {
                "agent_id": self.agent_id,
                "container_id": spec.container_id,
                "task_id": spec.task_id,
                "framework_id": spec.framework_id,
                "cpus": spec.cpus,
                "mem_bytes": mem_bytes,
            },
        )
        try:
            self.cgroups.create(spec.container_id, cpus=spec.cpus, mem_bytes=mem_bytes)
        except CgroupError as e:
            raise LaunchError(str(e)) from e
        memory_dir = self.cgroups.memory_dir(spec.container_id)
        dirs = [str(d) for d in self.cgroups.dirs(spec.container_id)]
        env = {"PATH": os.environ.get("PATH", DEFAULT_PATH), **spec.env}
        _write_json_atomic(
            runtime / "launch.json",
            {
                "program": program,
                "argv": list(argv),
                "env": env,
                "cwd": str(spec.sandbox),
                "stdout": str(spec.sandbox / "stdout"),
                "stderr": str(spec.sandbox / "stderr"),
                "user": spec.command.user,
                "cgroup_procs": [f"{d}/cgroup.procs" for d in dirs],
                "cgroup_dirs": dirs,
                "oom": {
                    "version": self.cgroups.version.value,
                    "memory_dir": str(memory_dir) if memory_dir else None,
                },
                "state": str(runtime / "shim.json"),
                "termination": str(runtime / "termination.json"),
            },
        )
        try:
            shim_pid, ready = await self._spawn_shim(runtime)
        except LaunchError:
            await asyncio.to_thread(self.cgroups.kill_all, spec.container_id)
            self.cgroups.remove(spec.container_id)
            raise
        # The shim is our unreaped child, so its pid cannot have been recycled yet.
        state.shim_pid = shim_pid
        state.shim_start = _start_time(shim_pid)
        state.child_pid = ready.get("child_pid")
        self._containers[spec.container_id] = state
        self._watch(state)
        if ready.get("error"):
            await asyncio.shield(state.exited)
            raise LaunchError(str(ready["error"]))
        return Launched(spec.container_id, shim_pid, None, None)

    async def _spawn_shim(self, runtime: Path) -> tuple[int, dict[str, Any]]:
        """Start the shim; return its pid and its one-line launch report.

        Bounded by ``launch_timeout``; a shim that dies or stalls is a ``LaunchError``.
        """
        read_fd, write_fd = os.pipe()
        log_fd = os.open(runtime / "shim.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        try:
            # posix_spawn returns as soon as the shim exists; it does not wait for it.
            pid = os.posix_spawn(  # noqa: ASYNC221
                sys.executable,
                [sys.executable, "-I", str(SHIM), str(runtime / "launch.json")],
                {"PATH": os.environ.get("PATH", DEFAULT_PATH)},
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, null_fd, 0),
                    (os.POSIX_SPAWN_DUP2, write_fd, 1),
                    (os.POSIX_SPAWN_DUP2, log_fd, 2),
                ],
                setsid=True,
            )
        except OSError as e:
            os.close(read_fd)
            raise LaunchError(f"cannot start the container shim: {e}") from e
        finally:
            os.close(write_fd)
            os.close(log_fd)
            os.close(null_fd)
        try:
            async with asyncio.timeout(self.launch_timeout):
                data = await _read_to_eof(read_fd)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            await asyncio.to_thread(os.waitpid, pid, 0)
            raise LaunchError(
                f"the container shim did not report within {self.launch_timeout:g}s"
            ) from None
        finally:
            os.close(read_fd)
        report = None
        with contextlib.suppress(ValueError):
            report = loads(data)
        if not isinstance(report, dict):
            # The shim died before reporting: reap it and show what it said.
            await asyncio.to_thread(os.waitpid, pid, 0)
            shim_log = (runtime / "shim.log").read_text(errors="replace")[-2000:]
            raise LaunchError(f"the container shim failed: {shim_log.strip() or 'no output'}")
        return pid, report

    def _link_volumes(self, spec: LaunchSpec) -> None:
        # Without a mount namespace the only way to "mount" a host path is a symlink
        # in the sandbox, which is what Mesos's posix filesystem isolator does too.
        for volume in spec.volumes:
            if os.path.isabs(volume.container_path):
                raise LaunchError(
                    f"volume {volume.container_path}: the process containerizer can only "
                    "place volumes inside the sandbox (use a relative container_path)"
                )
        for volume in spec.volumes:
            link = spec.sandbox / volume.container_path
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(volume.host_path)

    # -- watching --------------------------------------------------------------------

    def _watch(self, state: _Container) -> None:
        """Resolve ``state.exited`` when the shim exits (or now, if it already has)."""
        if state.exited.done():
            return
        pidfd = self._open_shim(state)
        if pidfd is None:
            self._finish(state)
            return
        state.pidfd = pidfd
        asyncio.get_running_loop().add_reader(pidfd, self._on_shim_exit, state)

    def _open_shim(self, state: _Container) -> int | None:
        """A pidfd for the container's shim, or None if that shim is gone."""
        if state.shim_pid is None:
            return None
        try:
            pidfd = os.pidfd_open(state.shim_pid)
        except ProcessLookupError:
            return None
        # The pidfd now pins that process; if it is not our shim, the pid was recycled.
        if state.shim_start is not None and _start_time(state.shim_pid) != state.shim_start:
            os.close(pidfd)
            return None
        return pidfd

    def _on_shim_exit(self, state: _Container) -> None:
        self._unwatch(state)
        self._finish(state)

    def _unwatch(self, state: _Container) -> None:
        if state.pidfd is not None:
            asyncio.get_running_loop().remove_reader(state.pidfd)
            os.close(state.pidfd)
            state.pidfd = None

    def _finish(self, state: _Container) -> None:
        if state.shim_pid is not None:
            _reap(state.shim_pid)
        if not state.exited.done():
            state.exited.set_result(self._termination(state))

    def _termination(self, state: _Container) -> Termination:
        record = _read_json(state.runtime_dir / "termination.json")
        if record is None:
            return Termination(
                None, None, False, "The container's shim exited without recording the exit"
            )
        if record.get("oom_killed"):
            return Termination(
                record.get("exit_code"), record.get("signal"), True, oom_message(state.mem_bytes)
            )
        if record.get("error"):
            return Termination(
                record.get("exit_code"), record.get("signal"), False, record["error"]
            )
        code, sig = record.get("exit_code"), record.get("signal")
        return Termination(code, sig, False, exit_message(code, sig))

    def _get(self, container_id: str) -> _Container:
        state = self._containers.get(container_id)
        if state is None:
            raise NotFound(f"unknown container {container_id}")
        return state

    # -- the rest of the interface -----------------------------------------------------

    async def wait(self, container_id: str) -> Termination:
        return await asyncio.shield(self._get(container_id).exited)

    async def signal(self, container_id: str, sig: int) -> None:
        state = self._containers.get(container_id)
        if state is None or state.exited.done():
            return
        if state.child_pid is not None:
            # The task leads its own process group (the shim made it a session leader).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(state.child_pid, sig)
        self.cgroups.signal(container_id, sig)

    async def destroy(self, container_id: str) -> None:
        state = self._containers.get(container_id)
        if state is not None and not state.exited.done():
            await self.signal(container_id, signal.SIGKILL)
            await asyncio.to_thread(self.cgroups.kill_all, container_id)
            await asyncio.shield(state.exited)
        elif state is None:
            await asyncio.to_thread(self.cgroups.kill_all, container_id)
        if not self.cgroups.remove(container_id):
            log.warning("cgroups of container %s could not all be removed", container_id)

    async def usage(self, container_id: str) -> Usage:
        state = self._get(container_id)
        now = time.time()
        stats = self.cgroups.stats(container_id) if not state.exited.done() else None
        if stats is not None:
            return Usage(
                now,
                stats.user_seconds,
                stats.system_seconds,
                stats.cpus_limit if stats.cpus_limit is not None else state.cpus,
                stats.rss_bytes,
                stats.mem_limit_bytes if stats.mem_limit_bytes is not None else state.mem_bytes,
            )
        user = system = 0.0
        rss = 0
        if state.child_pid is not None and not state.exited.done():
            user, system, rss = _proc_usage(state.child_pid)
        return Usage(now, user, system, state.cpus, rss, state.mem_bytes)

    async def run_command(
        self, container_id: str, command: CommandSpec | Mapping[str, Any], *, timeout: float
    ) -> int:
        state = self._get(container_id)
        if state.exited.done():
            raise ContainerizerError(f"container {container_id} is not running")
        launch = _read_json(state.runtime_dir / "launch.json") or {}
        spec, extra_env = as_command(command)
        try:
            program, argv = process_argv(spec)
        except InvalidInput as e:
            raise ContainerizerError(str(e)) from e
        return await run_to_exit(
            argv,
            executable=program,
            cwd=launch.get("cwd"),
            env={**launch.get("env", {}), **extra_env},
            timeout=timeout,
            # uvloop's subprocesses take no user= argument; switch in the child instead.
            preexec_fn=_switch_user(spec.user or launch.get("user") or None),
        )

    async def recover(self, known: Sequence[RecoveryRecord]) -> dict[str, Launched]:
        recovered: dict[str, Launched] = {}
        known_ids = {record.container_id for record in known}
        for record in known:
            runtime = self._runtime_of(record)
            state = self._load(record.container_id, runtime)
            if state is None:
                continue
            ended = (runtime / "termination.json").exists()
            pidfd = None if ended else self._open_shim(state)
            if not ended and pidfd is None:
                # The shim is gone and took the exit status with it: nothing left to
                # wait for, so make sure nothing of the task lingers either.
                log.warning("container %s lost its shim; destroying it", record.container_id)
                await self._destroy_unwatched(state)
                continue
            if pidfd is not None:
                os.close(pidfd)  # _watch opens its own
            self._containers[record.container_id] = state
            self._watch(state)
            assert state.shim_pid is not None
            recovered[record.container_id] = Launched(
                record.container_id, state.shim_pid, None, None
            )
        for runtime in sorted(self.work_dir.iterdir()) if self.work_dir.is_dir() else ():
            if runtime.name in known_ids or not runtime.is_dir():
                continue
            owner = _read_json(runtime / "container.json")
            if owner is None or owner.get("agent_id") != self.agent_id:
                continue
            orphan = self._load(runtime.name, runtime)
            if orphan is not None:
                log.info("destroying orphan container %s", runtime.name)
                await self._destroy_unwatched(orphan)
            shutil.rmtree(runtime, ignore_errors=True)
        return recovered

    def _runtime_of(self, record: RecoveryRecord) -> Path:
        """Our own layout wins; the record's directory is a fallback for moved work dirs."""
        own = self.runtime_dir(record.container_id)
        return own if own.is_dir() else record.runtime_dir

    def _load(self, container_id: str, runtime: Path) -> _Container | None:
        if container_id in self._containers:
            return self._containers[container_id]
        info = _read_json(runtime / "container.json")
        if info is None:
            return None
        shim = _read_json(runtime / "shim.json") or {}
        return _Container(
            container_id,
            runtime,
            shim_pid=shim.get("shim_pid"),
            shim_start=shim.get("shim_start"),
            child_pid=shim.get("child_pid"),
            cpus=info.get("cpus"),
            mem_bytes=info.get("mem_bytes"),
        )

    async def _destroy_unwatched(self, state: _Container) -> None:
        """Kill a container this instance does not track (orphans, lost shims)."""
        pidfd = self._open_shim(state)
        if pidfd is not None and state.child_pid is not None:
            # Only while its shim lives do we know the task's process group is still ours.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(state.child_pid, signal.SIGKILL)
        await asyncio.to_thread(self.cgroups.kill_all, state.container_id)
        if pidfd is not None:
            try:
                await _wait_readable(pidfd, timeout=30.0)
            finally:
                os.close(pidfd)
            assert state.shim_pid is not None
            _reap(state.shim_pid)
        self.cgroups.remove(state.container_id)

    async def close(self) -> None:
        for state in self._containers.values():
            self._unwatch(state)
            if not state.exited.done():
                state.exited.cancel()
        self._containers.clear()

    @property
    def cgroup_version(self) -> CgroupVersion:
        return self.cgroups.version


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    """Give the task's user its sandbox (Mesos does the same before switching user)."""
    for directory, dirs, files in os.walk(root):
        for name in [directory, *(os.path.join(directory, n) for n in dirs + files)]:
            with contextlib.suppress(OSError):
                os.lchown(name, uid, gid)


def _proc_usage(pid: int) -> tuple[float, float, int]:
    """(user s, system s, rss bytes) of one process from /proc, zeros if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        statm = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return 0.0, 0.0, 0
    fields = stat[stat.rindex(")") + 2 :].split()
    hz = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / hz, int(fields[12]) / hz, int(statm[1]) * os.sysconf("SC_PAGE_SIZE")


async def _read_to_eof(fd: int) -> bytes:
    """Read a pipe to EOF without blocking the event loop."""
    os.set_blocking(fd, False)
    loop = asyncio.get_running_loop()
    chunks: list[bytes] = []
    done: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        try:
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    if not done.done():
                        done.set_result(None)
                    return
                chunks.append(chunk)
        except BlockingIOError:
            return

    loop.add_reader(fd, on_readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
    return b"".join(chunks)


async def _wait_readable(fd: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, on_readable)
    try:
        async with asyncio.timeout(timeout):
            await ready
    finally:
        loop.remove_reader(fd)


def _switch_user(user: str | None) -> Callable[[], None] | None:
    """A preexec function that becomes ``user`` (None: stay who we are)."""
    if user is None:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ContainerizerError(f"user {user!r} does not exist on this agent") from None

    def switch() -> None:
        os.initgroups(entry.pw_name, entry.pw_gid)
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)

    return switch
