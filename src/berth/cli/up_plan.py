"""What ``berth up`` starts: the children, their command lines, addresses and ports (pure).

``plan(settings)`` turns the command's flags (plus what was detected: the machine's
resources, whether extra loopback addresses work) into one ``ChildSpec`` per process.
Nothing here touches the network, the disk or the clock, so the decisions are unit- and
property-tested (tests/unit/cli/test_up_plan.py); ``up_supervisor`` carries them out.

Several agents look like several machines: agent K binds and advertises 127.0.0.(K+1)
(Linux routes all of 127.0.0.0/8 to the loopback device), uses that address as its
hostname, keeps its work directory under the data directory, and gets its own slice of
the task port range. Its hostname is the IP rather than a name such as ``agent-2``
because the hostname is what task links (``host:port`` in ``/v2/tasks``), ``$HOST`` in a
task's environment and health checks use, and a made-up name would not resolve; the IP is
just as good for the ``hostname:UNIQUE`` constraint.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from pathlib import Path

from berth.core.errors import InvalidInput

MAX_AGENTS = 250  # 127.0.0.2 .. 127.0.0.251: one /24 of loopback addresses is plenty
DEFAULT_TASK_PORTS = (31000, 32000)


class Kind(enum.Enum):
    """What a child is; it decides the stop order."""

    MASTER = "master"
    AGENT = "agent"
    MARATHON = "marathon"
    GATEWAY = "gateway"


# Stop order, first wave first. The front ends go first, so nobody reacts to what
# follows: marathon would otherwise relaunch the instances the agents are about to
# kill. Then the agents, which kill their tasks and report TASK_KILLED to the master,
# still up to hear it. The master goes last.
STOP_WAVES: tuple[tuple[Kind, ...], ...] = (
    (Kind.GATEWAY, Kind.MARATHON),
    (Kind.AGENT,),
    (Kind.MASTER,),
)


@dataclass(frozen=True, slots=True)
class Machine:
    """The resources of the whole machine, as the agent would detect them."""

    cpus: float
    mem: int  # MB
    disk: int  # MB


@dataclass(frozen=True, slots=True)
class UpSettings:
    """Everything ``plan`` decides from: the flags, and what was detected."""

    data_dir: Path
    agents: int = 1
    containerizers: tuple[str, ...] = ("docker", "process")
    master_port: int = 5050
    agent_port: int = 5051
    marathon_port: int = 8080
    gateway_port: int | None = 8000  # None: no gateway
    task_ports: tuple[int, int] = DEFAULT_TASK_PORTS
    machine: Machine | None = None  # None: each agent detects (only right for one agent)
    distinct_addresses: bool = True  # 127.0.0.2+ can be bound here
    python: tuple[str, ...] = ("python", "-m", "berth")


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """One child process of ``berth up``."""

    name: str  # "master", "agent-1", "marathon", "gateway": in messages and log names
    kind: Kind
    args: tuple[str, ...]  # the berth command line: ("master", "--port", "5050", ...)
    host: str  # where it listens
    port: int
    port_option: str  # the ``berth up`` flag that moves it, for "port in use" advice
    log_path: Path
    work_dir: Path  # its state directory
    python: tuple[str, ...] = ("python", "-m", "berth")  # how to run berth

    @property
    def argv(self) -> tuple[str, ...]:
        return (*self.python, *self.args)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def agent_address(index: int, settings: UpSettings) -> tuple[str, int]:
    """Where agent ``index`` (1-based) listens: its own IP, or its own port on 127.0.0.1.

    >>> s = UpSettings(Path("/d"), agents=3)
    >>> agent_address(1, s), agent_address(3, s)
    (('127.0.0.2', 5051), ('127.0.0.4', 5051))
    >>> from dataclasses import replace
    >>> agent_address(3, replace(s, distinct_addresses=False))
    ('127.0.0.1', 5053)
    """
    if settings.distinct_addresses:
        return f"127.0.0.{index + 1}", settings.agent_port
    return "127.0.0.1", settings.agent_port + index - 1


def split_range(low: int, high: int, parts: int) -> list[tuple[int, int]]:
    """``[low, high]`` cut into ``parts`` contiguous, disjoint, nearly equal ranges.

    >>> split_range(31000, 32000, 3)
    [(31000, 31333), (31334, 31667), (31668, 32000)]
    """
    size = high - low + 1
    if parts < 1 or size < parts:
        raise InvalidInput(
            f"the task port range {low}-{high} has {max(size, 0)} ports, too few for {parts} agents"
        )
    out = []
    start = low
    for i in range(parts):
        # The first ``size % parts`` ranges take one port more.
        length = size // parts + (1 if i < size % parts else 0)
        out.append((start, start + length - 1))
        start += length
    return out


def agent_resources(machine: Machine | None, agents: int, ports: tuple[int, int]) -> str:
    """The ``--resources`` text for one of ``agents`` agents sharing ``machine``.

    The agents divide the machine rather than each claiming all of it: together they
    offer what the machine has, so the cluster cannot place more than fits (three agents
    each offering every core would let it run three times the machine). A single agent
    keeps what it detects itself.

    >>> agent_resources(Machine(cpus=2, mem=7000, disk=100000), 3, (31000, 31333))
    'cpus:0.66;mem:2333;disk:33333;ports:[31000-31333]'
    >>> agent_resources(None, 1, (31000, 32000))
    'ports:[31000-32000]'
    """
    text = f"ports:[{ports[0]}-{ports[1]}]"
    if machine is None or agents == 1:
        return text
    cpus = max(0.01, math.floor(machine.cpus / agents * 100) / 100)
    mem = max(1, machine.mem // agents)
    disk = max(1, machine.disk // agents)
    return f"cpus:{cpus:g};mem:{mem};disk:{disk};{text}"


def agent_work_dir(data_dir: Path, index: int) -> Path:
    """``agent`` for the first agent (so one-agent data dirs stay valid), ``agent-K`` after."""
    return data_dir / ("agent" if index == 1 else f"agent-{index}")


def validate(settings: UpSettings) -> None:
    """Raise ``InvalidInput`` for settings no plan can satisfy."""
    if not 1 <= settings.agents <= MAX_AGENTS:
        raise InvalidInput(f"--agents must be between 1 and {MAX_AGENTS}, not {settings.agents}")
    low, high = settings.task_ports
    if not 1 <= low <= high <= 65535:
        raise InvalidInput(f"--task-ports must be LOW-HIGH within 1-65535, not {low}-{high}")
    split_range(low, high, settings.agents)
    ports = {
        "--master-port": settings.master_port,
        "--marathon-port": settings.marathon_port,
        "--agent-port": settings.agent_port,
    }
    if settings.gateway_port is not None:
        ports["--gateway-port"] = settings.gateway_port
    for option, port in ports.items():
        if not 1 <= port <= 65535:
            raise InvalidInput(f"{option} must be a port between 1 and 65535, not {port}")
    if not settings.distinct_addresses and settings.agent_port + settings.agents - 1 > 65535:
        raise InvalidInput("--agent-port leaves no room for the agents' ports")


def plan(settings: UpSettings) -> list[ChildSpec]:
    """The children, in start order: master, agents, marathon, gateway.

    >>> kids = plan(UpSettings(Path("/d"), agents=2, python=("berth",)))
    >>> [(k.name, k.address) for k in kids]  # doctest: +NORMALIZE_WHITESPACE
    [('master', '127.0.0.1:5050'), ('agent-1', '127.0.0.2:5051'),
     ('agent-2', '127.0.0.3:5051'), ('marathon', '127.0.0.1:8080'),
     ('gateway', '127.0.0.1:8000')]
    >>> " ".join(kids[0].argv)
    'berth master --port 5050 --data-dir /d/master'
    """
    validate(settings)
    d = settings.data_dir
    py = settings.python
    master = f"127.0.0.1:{settings.master_port}"
    logs = d / "logs"
    children = [
        ChildSpec(
            "master",
            Kind.MASTER,
            ("master", "--port", str(settings.master_port), "--data-dir", str(d / "master")),
            "127.0.0.1",
            settings.master_port,
            "--master-port",
            logs / "master.log",
            d / "master",
            py,
        )
    ]
    ranges = split_range(*settings.task_ports, settings.agents)
    for i in range(1, settings.agents + 1):
        host, port = agent_address(i, settings)
        work_dir = agent_work_dir(d, i)
        args = (
            "agent",
            "--master",
            master,
            "--host",
            host,
            "--ip",
            host,
            "--hostname",
            host,
            "--port",
            str(port),
            "--work-dir",
            str(work_dir),
            "--resources",
            agent_resources(settings.machine, settings.agents, ranges[i - 1]),
            "--containerizers",
            ",".join(settings.containerizers),
            "--kill-tasks-on-exit",
        )
        children.append(
            ChildSpec(
                f"agent-{i}",
                Kind.AGENT,
                args,
                host,
                port,
                "--agent-port",
                logs / f"agent-{i}.log",
                work_dir,
                py,
            )
        )
    children.append(
        ChildSpec(
            "marathon",
            Kind.MARATHON,
            (
                "marathon",
                "--master",
                master,
                "--port",
                str(settings.marathon_port),
                "--data-dir",
                str(d / "marathon"),
            ),
            "127.0.0.1",
            settings.marathon_port,
            "--marathon-port",
            logs / "marathon.log",
            d / "marathon",
            py,
        )
    )
    if settings.gateway_port is not None:
        children.append(
            ChildSpec(
                "gateway",
                Kind.GATEWAY,
                (
                    "gateway",
                    "--port",
                    str(settings.gateway_port),
                    "--master",
                    master,
                    "--marathon",
                    f"127.0.0.1:{settings.marathon_port}",
                    "--data-dir",
                    str(d / "gateway"),
                ),
                "127.0.0.1",
                settings.gateway_port,
                "--gateway-port",
                logs / "gateway.log",
                d / "gateway",
                py,
            )
        )
    _refuse_shared_addresses(children)
    return children


def _refuse_shared_addresses(children: list[ChildSpec]) -> None:
    seen: dict[str, ChildSpec] = {}
    for child in children:
        other = seen.setdefault(child.address, child)
        if other is not child:
            raise InvalidInput(
                f"the {other.name} and the {child.name} would both listen on {child.address}; "
                f"give {other.port_option} and {child.port_option} different ports"
            )


def stop_waves(children: list[ChildSpec]) -> list[list[ChildSpec]]:
    """``children`` grouped in the order they are stopped (``STOP_WAVES``), empty waves
    left out.

    >>> waves = stop_waves(plan(UpSettings(Path("/d"), agents=2)))
    >>> [[c.name for c in wave] for wave in waves]
    [['marathon', 'gateway'], ['agent-1', 'agent-2'], ['master']]
    """
    waves = [[c for c in children if c.kind in kinds] for kinds in STOP_WAVES]
    return [w for w in waves if w]


def port_in_use_message(taken: list[ChildSpec]) -> str:
    """One line saying which ports are taken, by whom they were wanted, and what to do.

    >>> kids = plan(UpSettings(Path("/d")))
    >>> port_in_use_message(kids[:1])  # doctest: +NORMALIZE_WHITESPACE
    'berth up: port 5050 on 127.0.0.1 is already in use, so the master cannot start;
    stop what holds it or choose another port with --master-port'
    """
    if len(taken) == 1:
        (c,) = taken
        return (
            f"berth up: port {c.port} on {c.host} is already in use, so the {c.name} "
            f"cannot start; stop what holds it or choose another port with {c.port_option}"
        )
    ports = ", ".join(f"{c.address} ({c.name})" for c in taken)
    options = ", ".join(dict.fromkeys(c.port_option for c in taken))
    return (
        f"berth up: ports already in use: {ports}; is another berth up running? "
        f"Stop it, or choose other ports with {options}"
    )


def not_ready_yet(summary: object, children: list[ChildSpec]) -> list[str]:
    """What the master's ``/master/state-summary`` does not show yet: each agent active
    (by hostname and port) and marathon subscribed. Empty once the cluster can run apps.

    >>> kids = plan(UpSettings(Path("/d"), agents=2))
    >>> not_ready_yet({"slaves": [{"hostname": "127.0.0.2", "port": 5051, "active": True}],
    ...                "frameworks": []}, kids)
    ['agent-2 registered', 'marathon subscribed']
    """
    slaves = summary.get("slaves", []) if isinstance(summary, dict) else []
    frameworks = summary.get("frameworks", []) if isinstance(summary, dict) else []
    active = {
        (s.get("hostname"), s.get("port"))
        for s in slaves
        if isinstance(s, dict) and s.get("active")
    }
    missing = [
        f"{c.name} registered"
        for c in children
        if c.kind is Kind.AGENT and (c.host, c.port) not in active
    ]
    subscribed = any(
        isinstance(f, dict) and f.get("name") == "marathon" and f.get("connected")
        for f in frameworks
    )
    if any(c.kind is Kind.MARATHON for c in children) and not subscribed:
        missing.append("marathon subscribed")
    return missing
