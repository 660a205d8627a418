"""``berth up``: a whole cluster on this machine, as supervised child processes.

    flags ──> probe (Docker? ports free? loopback aliases?) ──> up_plan.plan (pure)
          ──> up_fork: import each service once, fork it (before any event loop)
          ──> up_supervisor: wait until ready, print the URLs, restart what crashes,
              and on Ctrl-C / SIGTERM stop everything in order

The imports at the top are kept light (no aiohttp, no service modules): every exec'd
``berth`` command imports this module through the CLI.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from berth.cli.up_fork import ForkedProcess, can_fork, fork_child, preload
from berth.cli.up_plan import ChildSpec, Kind, Machine, UpSettings, plan, port_in_use_message
from berth.cli.up_probe import loopback_aliases_work, port_free, probe_docker
from berth.cli.up_supervisor import StartupFailed, Supervisor, say
from berth.core.errors import InvalidInput
from berth.core.runtime import data_home, run_service, setup_logging

READY_TIMEOUT = 120.0  # a first start on a slow, busy machine; normally about 2 s
CONTAINERIZER_CHOICES = ("auto", "docker", "process")
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def parse_port_range(text: str) -> tuple[int, int]:
    """``"31000-32000"`` -> ``(31000, 32000)``.

    >>> parse_port_range("31000-31999")
    (31000, 31999)
    """
    low, sep, high = text.partition("-")
    try:
        if not sep:
            raise ValueError
        return int(low), int(high)
    except ValueError:
        raise InvalidInput(f"--task-ports must look like 31000-32000, not {text!r}") from None


def containerizer_choice(text: str) -> str:
    """``auto``, ``docker`` or ``process``; ``docker,process`` (what agents take) means
    ``docker``.

    >>> containerizer_choice("docker,process"), containerizer_choice("PROCESS")
    ('docker', 'process')
    """
    names = {n.strip().lower() for n in text.split(",") if n.strip()}
    if names == {"docker", "process"}:
        return "docker"
    if len(names) == 1 and (name := next(iter(names))) in CONTAINERIZER_CHOICES:
        return name
    raise InvalidInput(f"--containerizer must be auto, docker or process, not {text!r}")


async def _containerizers(choice: str) -> tuple[tuple[str, ...], str] | None:
    """The agents' containerizers and the line saying so; None if Docker was demanded
    but does not answer (the reason was said)."""
    if choice == "process":
        return (
            "process",
        ), "containers: running tasks as plain processes (--containerizer process)"
    docker = await probe_docker()
    if docker.available:
        return (
            "docker",
            "process",
        ), f"containers: Docker Engine {docker.version} at {docker.where}"
    if choice == "docker":
        say(
            f"--containerizer docker, but no Docker Engine answered at {docker.where} "
            f"({docker.problem}); start it, or use --containerizer process"
        )
        return None
    return (
        ("process",),
        f"containers: no Docker Engine answered at {docker.where}; "
        "running tasks as plain processes",
    )


def _machine(data_dir: Path) -> Machine:
    from berth.agent.host import detected_resources

    r = detected_resources(data_dir)
    return Machine(
        cpus=r.scalar_value("cpus"),
        mem=int(r.scalar_value("mem")),
        disk=int(r.scalar_value("disk")),
    )


def banner(specs: list[ChildSpec], data_dir: Path, seconds: float) -> str:
    """What ``berth up`` prints once the cluster is ready: the URL to open first."""
    by_kind = {k: [s for s in specs if s.kind is k] for k in Kind}
    lines = [f"Berth is up ({seconds:.1f} s):"]
    if by_kind[Kind.GATEWAY]:
        lines.append(
            f"  open {by_kind[Kind.GATEWAY][0].url}   (web UI; the berth CLI's default URL)"
        )
    else:
        lines.append(f"  open {by_kind[Kind.MARATHON][0].url}   (marathon; no gateway)")
    lines.append(f"  master    {by_kind[Kind.MASTER][0].url}")
    lines.append(f"  marathon  {by_kind[Kind.MARATHON][0].url}")
    for agent in by_kind[Kind.AGENT]:
        lines.append(f"  {agent.name:<9} {agent.url}   (work dir {agent.work_dir})")
    lines.append(f"  data      {data_dir}   (logs in {data_dir / 'logs'})")
    lines.append("Stop with Ctrl-C: it stops every service and every task.")
    return "\n".join(lines)


def run_up(settings: UpSettings, containerizer: str, *, fork: bool = True) -> int:
    """Start the cluster, supervise it until SIGINT/SIGTERM, stop it; the exit status.

    Everything before the children start runs without an event loop, so that they can
    be forked from this process with their imports done (``up_fork``); ``fork=False``
    execs them instead.
    """
    started = time.monotonic()
    chosen = asyncio.run(_containerizers(containerizer))
    if chosen is None:
        return 1
    names, line = chosen
    settings = replace(settings, containerizers=names, distinct_addresses=loopback_aliases_work())
    if settings.agents > 1:
        settings = replace(settings, machine=_machine(settings.data_dir))
    try:
        specs = plan(settings)
    except InvalidInput as e:
        say(str(e))
        return 2
    taken = [s for s in specs if not port_free(s.host, s.port)]
    if taken:
        print(port_in_use_message(taken), file=sys.stderr, flush=True)
        return 1
    print(line, flush=True)
    supervisor = Supervisor(specs)
    status: list[int] = []
    # From the first fork until the event loop handles them, a Ctrl-C or SIGTERM waits
    # (blocked, not lost): it must not kill this process and orphan the children.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        if fork and can_fork():
            # Each child is forked as soon as its own modules are in, so the first ones
            # start serving on the other core while the imports go on here.
            for child in supervisor.children:
                preload(child.spec.kind)
                try:
                    child.adopt(ForkedProcess(fork_child(child.spec)))
                except OSError as e:  # out of processes or memory: exec the rest
                    say(f"cannot fork the {child.spec.name} ({e}); starting it with exec")
                    break
        run_service(_supervise(supervisor, settings.data_dir, started, status))
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    return status[0] if status else 0


async def _supervise(
    supervisor: Supervisor, data_dir: Path, started: float, status: list[int]
) -> None:
    # run_service has installed its SIGINT/SIGTERM handlers by now.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    try:
        await supervisor.start_all()
        try:
            await supervisor.wait_ready(READY_TIMEOUT)
        except StartupFailed as e:
            say(str(e))
            status.append(1)
            return
        specs = [c.spec for c in supervisor.children]
        print(banner(specs, data_dir, time.monotonic() - started), flush=True)
        await supervisor.supervise()
    finally:
        await _stop_shielded(supervisor)


async def _stop_shielded(supervisor: Supervisor) -> None:
    """Stop the children even if a second Ctrl-C arrives meanwhile (it is acknowledged,
    not obeyed: leaving half the cluster running would be worse than waiting)."""
    if any(c.running for c in supervisor.children):
        say("stopping: gateway and marathon, then the agents and their tasks, then the master")
    begun = time.monotonic()
    stopping = asyncio.ensure_future(supervisor.stop())
    while not stopping.done():
        try:
            await asyncio.shield(stopping)
        except asyncio.CancelledError:
            say("still stopping: the agents are killing their tasks")
    stopping.result()
    say(f"stopped in {time.monotonic() - begun:.1f} s")


def up(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="BERTH_DATA_DIR",
            help="Where the cluster keeps its state (SQLite), task sandboxes and logs; "
            "a later berth up on the same directory finds its apps again. "
            "Default: $XDG_DATA_HOME/berth, that is ~/.local/share/berth.",
            show_default=False,
        ),
    ] = None,
    agents: Annotated[
        int,
        typer.Option(
            help="How many agents: each looks like its own machine, on its own loopback "
            "address (127.0.0.2, 127.0.0.3, ...) with a share of this machine's "
            "resources and of the task ports.",
        ),
    ] = 1,
    containerizer: Annotated[
        str,
        typer.Option(
            "--containerizer",
            help="auto: Docker Engine if it answers, else plain processes; docker: "
            "require Docker; process: never use Docker.",
        ),
    ] = "auto",
    master_port: Annotated[int, typer.Option(help="The master's port.")] = 5050,
    agent_port: Annotated[
        int, typer.Option(help="The agents' port (each agent on its own address).")
    ] = 5051,
    marathon_port: Annotated[int, typer.Option(help="Marathon's port.")] = 8080,
    gateway_port: Annotated[
        int, typer.Option(help="The gateway's port: the web UI and the berth CLI's default URL.")
    ] = 8000,
    gateway: Annotated[
        bool, typer.Option(help="Start the gateway (--no-gateway: master, agents, marathon only).")
    ] = True,
    task_ports: Annotated[
        str,
        typer.Option(help="Host ports for tasks, shared out among the agents without overlap."),
    ] = "31000-32000",
    fork: Annotated[
        bool,
        typer.Option(
            hidden=True,
            help="Fork the services from this process once it has imported them (fast); "
            "--no-fork starts each with python -m berth (for comparison and diagnosis).",
        ),
    ] = True,
) -> None:
    """Start a cluster on this machine: master, agents, marathon and the gateway.

    Prints the URL to open once everything is ready, and restarts a service that crashes.
    Ctrl-C or SIGTERM stops everything: the services, the tasks and their containers.
    """
    setup_logging()
    try:
        choice = containerizer_choice(containerizer)
        ports = parse_port_range(task_ports)
    except InvalidInput as e:
        raise typer.BadParameter(str(e)) from None
    settings = UpSettings(
        data_dir=(data_dir or data_home()).expanduser().resolve(),
        agents=agents,
        master_port=master_port,
        agent_port=agent_port,
        marathon_port=marathon_port,
        gateway_port=gateway_port if gateway else None,
        task_ports=ports,
        python=(sys.executable, "-m", "berth"),
    )
    raise typer.Exit(run_up(settings, choice, fork=fork))
