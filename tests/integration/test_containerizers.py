"""Contract suite for containerizers, run against real processes and the real Docker Engine.

Every test runs once per containerizer (``rig`` is parametrized); Docker runs are marked
``docker`` and use the local busybox test image. Each test gets its own agent id and
work directory, so tests are independent under pytest-xdist, and the ``rig`` fixture
destroys whatever a test started (through a fresh containerizer's ``recover([])``,
which is itself part of the contract, plus a label sweep for Docker).

Nothing here waits on a fixed sleep: tasks that must outlive a step block on a file in
their sandbox, and the test creates the file when it is ready for them to go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiodocker
import aiohttp
import pytest
from aiodocker.exceptions import DockerError

from berth.agent.containerizers import (
    Containerizer,
    DockerContainerizer,
    LaunchError,
    ProcessContainerizer,
    RecoveryRecord,
    Termination,
)
from berth.agent.containerizers.cgroups import Cgroups, CgroupVersion
from berth.agent.containerizers.docker import docker_available
from berth.agent.launch import CommandSpec, LaunchSpec, launch_spec
from tests.images import ensure_busybox_image

DEADLINE = 60.0  # generous: bounds waits on conditions, never asserted as a duration

# Blocks until the test creates `go` in the sandbox; works in both sandboxes.
WAIT_FOR_GO = 'while [ ! -e "$MESOS_SANDBOX/go" ]; do sleep 0.05; done'


async def wait_until(
    condition: Callable[[], Awaitable[bool]], what: str, timeout: float = DEADLINE
) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Rig:
    """One containerizer kind with a private agent id and work dir."""

    kind: str
    agent_id: str
    root: Path
    image: str | None
    instances: list[Containerizer] = field(default_factory=list)

    @property
    def work_dir(self) -> Path:
        return self.root / "runtime"

    def containerizer(self) -> Containerizer:
        """A new containerizer instance, as after an agent restart."""
        c: Containerizer
        if self.kind == "docker":
            c = DockerContainerizer(self.agent_id, self.work_dir)
        else:
            c = ProcessContainerizer(self.agent_id, self.work_dir)
        self.instances.append(c)
        return c

    def spec(
        self,
        command: str | None = None,
        *,
        shell: bool = True,
        arguments: list[str] | None = None,
        env: dict[str, str] | None = None,
        mem: float | None = None,
        cpus: float = 0.2,
        docker: dict[str, Any] | None = None,
        ports: list[int] | None = None,
    ) -> LaunchSpec:
        container_id = uuid.uuid4().hex
        resources: list[dict[str, Any]] = [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        ]
        if mem is not None:
            resources.append({"name": "mem", "type": "SCALAR", "scalar": {"value": mem}})
        if ports:
            ranges = [{"begin": p, "end": p} for p in ports]
            resources.append({"name": "ports", "type": "RANGES", "ranges": {"range": ranges}})
        cmd: dict[str, Any] = {"shell": shell}
        if command is not None:
            cmd["value"] = command
        if arguments is not None:
            cmd["arguments"] = arguments
        if env:
            cmd["environment"] = {"variables": [{"name": k, "value": v} for k, v in env.items()]}
        task: dict[str, Any] = {
            "name": "t",
            "task_id": {"value": f"task-{container_id[:8]}"},
            "resources": resources,
            "command": cmd,
        }
        if self.kind == "docker":
            assert self.image is not None
            task["container"] = {
                "type": "DOCKER",
                "docker": {"image": self.image, **(docker or {})},
            }
        return launch_spec(
            task,
            framework_id="framework-1",
            agent_id=self.agent_id,
            container_id=container_id,
            sandbox=self.root / "sandboxes" / container_id,
            agent_hostname="localhost",
        )


@pytest.fixture(scope="session")
def busybox_image() -> str:
    return ensure_busybox_image()


@contextlib.asynccontextmanager
async def open_rig(kind: str, root: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    image = None
    if kind == "docker":
        if not await docker_available():
            pytest.skip("no Docker Engine answers on this host")
        image = request.getfixturevalue("busybox_image")
    r = Rig(kind, f"test-agent-{uuid.uuid4().hex[:12]}", root, image)
    try:
        yield r
    finally:
        for c in r.instances:
            await c.close()
        # A fresh instance that knows nothing destroys everything this agent started.
        sweeper = r.containerizer()
        try:
            await sweeper.recover([])
        finally:
            await sweeper.close()
        if kind == "docker":
            await _sweep_docker(r.agent_id)


@pytest.fixture(params=["process", pytest.param("docker", marks=pytest.mark.docker)])
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig(request.param, tmp_path, request) as r:
        yield r


@pytest.fixture
async def docker_rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig("docker", tmp_path, request) as r:
        yield r


async def _sweep_docker(agent_id: str) -> None:
    docker = aiodocker.Docker()
    try:
        leftovers = await docker.containers.list(
            all=True, filters={"label": [f"berth.agent_id={agent_id}"]}
        )
        for container in leftovers:
            await container.delete(force=True)
    finally:
        await docker.close()
    assert not leftovers, f"containers survived the sweep: {[c.id for c in leftovers]}"


def read(spec: LaunchSpec, name: str) -> str:
    path = spec.sandbox / name
    return path.read_text() if path.exists() else ""


async def run(rig: Rig, c: Containerizer, spec: LaunchSpec) -> Termination:
    await c.launch(spec)
    async with asyncio.timeout(DEADLINE):
        return await c.wait(spec.container_id)


def record(rig: Rig, c: Containerizer, spec: LaunchSpec, launched: Any) -> RecoveryRecord:
    return RecoveryRecord(
        container_id=spec.container_id,
        task_id=spec.task_id,
        framework_id=spec.framework_id,
        launched=launched,
        runtime_dir=c.runtime_dir(spec.container_id),
    )


# -- running commands -------------------------------------------------------------------


async def test_echo_exits_zero_with_output_in_the_sandbox(rig: Rig) -> None:
    c = rig.containerizer()
    spec = rig.spec("echo hello; echo oops >&2")
    term = await run(rig, c, spec)
    assert (term.exit_code, term.signal, term.oom_killed) == (0, None, False)
    assert term.succeeded
    assert term.message == "Command exited with status 0"
    assert read(spec, "stdout") == "hello\n"
    assert read(spec, "stderr") == "oops\n"


async def test_nonzero_exit_code_is_reported(rig: Rig) -> None:
    c = rig.containerizer()
    term = await run(rig, c, rig.spec("exit 7"))
    assert (term.exit_code, term.signal, term.oom_killed) == (7, None, False)
    assert not term.succeeded
    assert "status 7" in term.message


async def test_argv_form_runs_without_a_shell(rig: Rig) -> None:
    c = rig.containerizer()
    spec = rig.spec("/bin/echo", shell=False, arguments=["echo", "a  b", "$HOME"])
    term = await run(rig, c, spec)
    assert term.exit_code == 0
    assert read(spec, "stdout") == "a  b $HOME\n"  # no word splitting, no expansion


async def test_environment_is_visible(rig: Rig) -> None:
    c = rig.containerizer()
    spec = rig.spec(
        'echo "$GREETING|$MESOS_TASK_ID|$MESOS_SANDBOX|$HOST"', env={"GREETING": "hi there"}
    )
    term = await run(rig, c, spec)
    assert term.exit_code == 0
    sandbox = "/mnt/mesos/sandbox" if rig.kind == "docker" else str(spec.sandbox)
    assert read(spec, "stdout") == f"hi there|{spec.task_id}|{sandbox}|localhost\n"


async def test_sigterm_ends_a_sleeping_task(rig: Rig) -> None:
    c = rig.containerizer()
    spec = rig.spec("sleep 1000")
    await c.launch(spec)
    await c.signal(spec.container_id, signal.SIGTERM)
    async with asyncio.timeout(DEADLINE):
        term = await c.wait(spec.container_id)
    # Killed by the signal, or (through a shell or docker-init) exit status 128+15.
    assert term.signal == signal.SIGTERM or term.exit_code == 128 + signal.SIGTERM
    assert not term.oom_killed
    assert not term.succeeded
    await c.signal(spec.container_id, signal.SIGTERM)  # ended: a no-op


async def test_memory_limit_ends_in_oom_kill(rig: Rig) -> None:
    c = rig.containerizer()
    if isinstance(c, ProcessContainerizer) and not c.cgroups.limits_memory:
        pytest.skip("this host has no writable memory cgroup, so no memory limit to exceed")
    # `tail` keeps the whole newline-free stream in memory: 200 MB against a 32 MB limit.
    term = await run(rig, c, rig.spec("head -c 209715200 /dev/zero | tail", mem=32))
    assert term.oom_killed
    assert not term.succeeded
    assert "Memory limit exceeded" in term.message
    assert "32 MB" in term.message


async def test_usage_reports_limits(rig: Rig) -> None:
    c = rig.containerizer()
    spec = rig.spec(WAIT_FOR_GO, mem=64, cpus=0.5)
    await c.launch(spec)
    usage = await c.usage(spec.container_id)
    assert usage.mem_limit_bytes == 64 * 2**20
    assert usage.cpus_limit == pytest.approx(0.5)
    assert usage.cpu_seconds >= 0
    assert usage.mem_rss_bytes >= 0
    (spec.sandbox / "go").touch()
    async with asyncio.timeout(DEADLINE):
        assert (await c.wait(spec.container_id)).exit_code == 0


async def test_a_program_that_cannot_run_fails_clearly(rig: Rig) -> None:
    # The process containerizer sees the exec fail and raises LaunchError; under Docker
    # the container's init does the exec, so the container starts and ends with 127
    # (the shell's "cannot execute" status) and the reason on stderr.
    c = rig.containerizer()
    spec = rig.spec("/nonexistent/program", shell=False)
    failure: LaunchError | None = None
    try:
        async with asyncio.timeout(DEADLINE):
            await c.launch(spec)
    except LaunchError as e:
        failure = e
    if failure is not None:
        assert "/nonexistent/program" in failure.message
        return
    async with asyncio.timeout(DEADLINE):
        term = await c.wait(spec.container_id)
    assert term.exit_code == 127
    assert "/nonexistent/program" in term.message + read(spec, "stderr")


async def test_run_command_runs_where_the_task_lives(rig: Rig) -> None:
    c = rig.containerizer()
    spec = rig.spec(WAIT_FOR_GO)
    await c.launch(spec)
    check = {
        "value": f'test "$MESOS_TASK_ID" = {spec.task_id} && test "$EXTRA" = yes'
        ' && test -d "$MESOS_SANDBOX"',
        "environment": {"variables": [{"name": "EXTRA", "value": "yes"}]},
    }
    assert await c.run_command(spec.container_id, check, timeout=DEADLINE) == 0
    failing = CommandSpec(shell=False, value="/bin/sh", arguments=("sh", "-c", "exit 3"))
    assert await c.run_command(spec.container_id, failing, timeout=DEADLINE) == 3
    (spec.sandbox / "go").touch()
    async with asyncio.timeout(DEADLINE):
        assert (await c.wait(spec.container_id)).exit_code == 0


# -- destroy and recovery ---------------------------------------------------------------


async def test_destroy_is_idempotent(rig: Rig) -> None:
    c = rig.containerizer()
    spec = rig.spec("sleep 1000")
    await c.launch(spec)
    await c.destroy(spec.container_id)
    await c.destroy(spec.container_id)
    async with asyncio.timeout(DEADLINE):
        term = await c.wait(spec.container_id)  # still answers after destroy
    assert term.signal == signal.SIGKILL or term.exit_code == 128 + signal.SIGKILL
    await c.destroy(uuid.uuid4().hex)  # never launched: nothing to do


async def test_recover_adopts_a_running_container(rig: Rig) -> None:
    first = rig.containerizer()
    spec = rig.spec(f"echo before; {WAIT_FOR_GO}; echo after; exit 5")
    launched = await first.launch(spec)
    await wait_until(_has_output(spec, "before\n"), "the task's first line")
    await first.close()  # the agent goes away; the container must not

    second = rig.containerizer()
    recovered = await second.recover([record(rig, second, spec, launched)])
    assert recovered == {spec.container_id: launched}  # same pid / docker id: adopted

    (spec.sandbox / "go").touch()
    async with asyncio.timeout(DEADLINE):
        term = await second.wait(spec.container_id)
    assert (term.exit_code, term.oom_killed) == (5, False)
    assert read(spec, "stdout") == "before\nafter\n"  # resumed without repeating a line


async def test_recover_knows_how_a_container_ended_while_the_agent_was_down(rig: Rig) -> None:
    first = rig.containerizer()
    spec = rig.spec(f"{WAIT_FOR_GO}; echo bye; exit 4")
    launched = await first.launch(spec)
    await first.close()
    (spec.sandbox / "go").touch()
    await wait_until(_has_ended(rig, spec), "the container to end")

    second = rig.containerizer()
    recovered = await second.recover([record(rig, second, spec, launched)])
    assert spec.container_id in recovered
    async with asyncio.timeout(DEADLINE):
        term = await second.wait(spec.container_id)
    assert term.exit_code == 4
    await wait_until(_has_output(spec, "bye\n"), "the output written while the agent was down")


async def test_recover_destroys_containers_nobody_knows(rig: Rig) -> None:
    first = rig.containerizer()
    orphan = rig.spec("sleep 1000")
    kept = rig.spec(WAIT_FOR_GO)
    await first.launch(orphan)
    kept_launched = await first.launch(kept)
    await first.close()

    second = rig.containerizer()
    recovered = await second.recover([record(rig, second, kept, kept_launched)])
    assert set(recovered) == {kept.container_id}
    assert not await _is_running(rig, orphan)
    assert await _is_running(rig, kept)
    (kept.sandbox / "go").touch()
    async with asyncio.timeout(DEADLINE):
        assert (await second.wait(kept.container_id)).exit_code == 0


# -- Docker only ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.docker
async def test_bridge_port_mapping_serves_http(docker_rig: Rig) -> None:
    rig = docker_rig
    c = rig.containerizer()
    port = _free_port()
    spec = rig.spec(
        "httpd -f -p 8080 -h /var/www",
        docker={
            "network": "BRIDGE",
            "port_mappings": [{"host_port": port, "container_port": 8080, "protocol": "tcp"}],
        },
        ports=[port],
    )
    launched = await c.launch(spec)
    assert launched.ip_address is not None  # bridged: the container has its own address

    async def serves() -> bool:
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/index.html") as response,
            ):
                return response.status == 200 and "berth test image" in await response.text()
        except aiohttp.ClientError:
            return False

    await wait_until(serves, f"httpd on host port {port}")
    await c.signal(spec.container_id, signal.SIGTERM)
    async with asyncio.timeout(DEADLINE):
        await c.wait(spec.container_id)


@pytest.mark.docker
async def test_unpullable_image_fails_fast(docker_rig: Rig) -> None:
    rig = docker_rig
    c = rig.containerizer()
    # Port 1 on localhost: the "registry" refuses the connection at once.
    image = f"127.0.0.1:1/berth-test/missing-{uuid.uuid4().hex[:8]}:1"
    spec = rig.spec("true", docker={"image": image})
    async with asyncio.timeout(DEADLINE):
        with pytest.raises(LaunchError) as info:
            await c.launch(spec)
    assert image in info.value.message
    assert "pull" in info.value.message.lower()


# -- helpers that look at the world directly ---------------------------------------------


def _has_output(spec: LaunchSpec, expected: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return read(spec, "stdout") == expected

    return check


def _has_ended(rig: Rig, spec: LaunchSpec) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return not await _is_running(rig, spec)

    return check


async def _is_running(rig: Rig, spec: LaunchSpec) -> bool:
    if rig.kind == "docker":
        docker = aiodocker.Docker()
        try:
            info = await docker.containers.container(spec.container_name).show()
        except DockerError as e:
            if e.status == 404:
                return False
            raise
        finally:
            await docker.close()
        return bool(info["State"]["Running"])
    # The process containerizer: the task's shim is alive until the task has ended and
    # its exit is recorded.
    runtime = rig.work_dir / spec.container_id
    if (runtime / "termination.json").exists():
        return False
    shim = runtime / "shim.json"
    if not shim.exists():
        return False
    return _process_alive(json.loads(shim.read_text())["shim_pid"])


def _process_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # exited, not yet reaped: not running


# -- process containerizer on other cgroup layouts ----------------------------------------


@pytest.mark.parametrize(
    "layout",
    [
        "none",  # no writable hierarchy at all: no limits, process groups only
        "v2",  # the hybrid host's unified mount: the cgroup v2 code path
    ],
)
async def test_process_containerizer_degrades_without_v1_cgroups(
    layout: str, tmp_path: Path
) -> None:
    if layout == "v2":
        unified = Path("/sys/fs/cgroup/unified")
        if not (unified / "cgroup.controllers").exists() or not os.access(unified, os.W_OK):
            pytest.skip("no writable cgroup v2 mount at /sys/fs/cgroup/unified")
        cgroups = Cgroups(root=unified)
        assert cgroups.version is CgroupVersion.V2
    else:
        cgroups = Cgroups(root=tmp_path / "no-cgroups-here")
        assert cgroups.version is CgroupVersion.NONE
    rig = Rig("process", f"test-agent-{uuid.uuid4().hex[:12]}", tmp_path, None)
    c = ProcessContainerizer(rig.agent_id, rig.work_dir, cgroups=cgroups)
    try:
        echo = rig.spec("echo hello", mem=32)
        assert (await run(rig, c, echo)).exit_code == 0
        assert read(echo, "stdout") == "hello\n"

        # A task that forks a background child: destroy() must take both down.
        spec = rig.spec("sleep 1000 & echo $! > child.pid; wait")
        await c.launch(spec)
        await wait_until(_file_exists(spec.sandbox / "child.pid"), "the background child")
        child = int((spec.sandbox / "child.pid").read_text())
        assert _process_alive(child)
        await c.destroy(spec.container_id)
        async with asyncio.timeout(DEADLINE):
            await c.wait(spec.container_id)
        await wait_until(_process_gone(child), "the background child to die")
        assert not any(d.exists() for d in cgroups.dirs(spec.container_id))
    finally:
        await c.close()
        sweeper = ProcessContainerizer(rig.agent_id, rig.work_dir, cgroups=cgroups)
        await sweeper.recover([])
        await sweeper.close()


def _file_exists(path: Path) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return _nonempty(path)

    return check


def _nonempty(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0


def _process_gone(pid: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return not _process_alive(pid)

    return check
