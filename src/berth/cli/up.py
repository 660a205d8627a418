"""``berth up``: a single-machine cluster as supervised child processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import aiohttp
import typer

from berth.core.runtime import data_home, run_service, setup_logging

log = logging.getLogger("berth.up")

RESTART_BACKOFF_MAX = 30.0


@dataclass(slots=True)
class Child:
    name: str
    argv: list[str]
    health_url: str
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)


async def _wait_healthy(url: str, proc: asyncio.subprocess.Process, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline and proc.returncode is None:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as r:
                    if r.status == 200:
                        return True
            await asyncio.sleep(0.05)
    return False


async def _start(child: Child) -> None:
    child.process = await asyncio.create_subprocess_exec(*child.argv, start_new_session=True)
    child.started_at = time.monotonic()


async def _supervise(child: Child) -> None:
    """Keep ``child`` running, restarting it with backoff when it dies."""
    while True:
        assert child.process is not None
        code = await child.process.wait()
        ran = time.monotonic() - child.started_at
        child.restarts = 0 if ran > 60 else child.restarts + 1
        delay = min(RESTART_BACKOFF_MAX, 0.5 * 2 ** max(0, child.restarts - 1))
        print(
            f"berth up: {child.name} exited with status {code}; restarting in {delay:.1f}s",
            file=sys.stderr,
            flush=True,
        )
        await asyncio.sleep(delay)
        await _start(child)


async def _stop(children: list[Child]) -> None:
    for child in reversed(children):
        if child.process is not None and child.process.returncode is None:
            child.process.send_signal(signal.SIGTERM)
    for child in reversed(children):
        if child.process is None:
            continue
        try:
            await asyncio.wait_for(child.process.wait(), 10)
        except TimeoutError:
            child.process.kill()
            await child.process.wait()


async def run_up(
    data_dir: Path, containerizers: str, master_port: int, agent_port: int, marathon_port: int
) -> None:
    py = [sys.executable, "-m", "berth"]
    master = f"127.0.0.1:{master_port}"
    children = [
        Child(
            "master",
            [*py, "master", "--port", str(master_port), "--data-dir", str(data_dir / "master")],
            f"http://{master}/health",
        ),
        Child(
            "agent",
            [
                *py,
                "agent",
                "--master",
                master,
                "--port",
                str(agent_port),
                "--work-dir",
                str(data_dir / "agent"),
                "--containerizers",
                containerizers,
            ],
            f"http://127.0.0.1:{agent_port}/health",
        ),
        Child(
            "marathon",
            [
                *py,
                "marathon",
                "--master",
                master,
                "--port",
                str(marathon_port),
                "--data-dir",
                str(data_dir / "marathon"),
            ],
            f"http://127.0.0.1:{marathon_port}/health",
        ),
    ]
    try:
        for child in children:
            await _start(child)
            assert child.process is not None
            if not await _wait_healthy(child.health_url, child.process, 30):
                raise SystemExit(f"berth up: {child.name} did not become healthy")
        print("Berth is up:", flush=True)
        print(f"  master    http://{master}", flush=True)
        print(f"  agent     http://127.0.0.1:{agent_port}", flush=True)
        print(f"  marathon  http://127.0.0.1:{marathon_port}", flush=True)
        print(f"  state     {data_dir}", flush=True)
        async with asyncio.TaskGroup() as tg:
            for child in children:
                tg.create_task(_supervise(child))
    finally:
        await _stop(children)


def up(
    data_dir: Annotated[
        Path | None, typer.Option(envvar="BERTH_DATA_DIR", help="Where the cluster keeps state.")
    ] = None,
    containerizers: Annotated[
        str, typer.Option("--containerizer", help="docker, process, or both (comma-separated).")
    ] = "docker,process",
    master_port: Annotated[int, typer.Option(help="The master's port.")] = 5050,
    agent_port: Annotated[int, typer.Option(help="The agent's port.")] = 5051,
    marathon_port: Annotated[int, typer.Option(help="Marathon's port.")] = 8080,
) -> None:
    """Start a single-machine cluster: a master, an agent and marathon."""
    setup_logging()
    run_service(
        run_up(
            (data_dir or data_home()).resolve(),
            containerizers,
            master_port,
            agent_port,
            marathon_port,
        )
    )
