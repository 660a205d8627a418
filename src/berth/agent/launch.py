"""What to run for a task: a Mesos ``TaskInfo`` turned into a ``LaunchSpec`` (pure).

The agent calls ``launch_spec()`` once per task; containerizers only ever see the
result, so Mesos JSON quirks (IDs wrapped in objects, numbers given as strings,
``limits`` as bare numbers or ``{"value": x}``, MESOS vs DOCKER container types) are
settled here, and every problem is reported as ``InvalidInput`` with the JSON path of the
offending field.

Command forms (Mesos ``CommandInfo``), as the containerizers run them:

====================  =======================================  ===============================
command               process containerizer (``process_argv``)  docker (``docker_command``)
====================  =======================================  ===============================
shell, value          ``/bin/sh -c value``                     entrypoint ``/bin/sh -c``, cmd
                                                               ``[value]``
not shell, value      exec ``value`` with argv ``arguments``   entrypoint ``[value]``, cmd
                      (argv[0] included; ``[value]`` if none)  ``arguments[1:]``
not shell, no value   invalid                                  image entrypoint kept, cmd
                                                               ``arguments`` (Marathon ``args``)
no command / value    invalid                                  image defaults
====================  =======================================  ===============================

For docker with ``shell: false`` and a value, real Mesos appends ``value`` to the image's
command; Berth follows the generic CommandInfo rule instead (``value`` is the program,
``arguments`` its full argv), so one task definition means the same on both containerizers.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from berth.core.errors import InvalidInput
from berth.core.jsonutil import id_value

DOCKER_SANDBOX = "/mnt/mesos/sandbox"
"""Where the sandbox is mounted inside a Docker container (Mesos's ``MESOS_SANDBOX``)."""

DEFAULT_KILL_GRACE_SECONDS = 3.0
_MAX_PORTS = 65536
_EMPTY: Mapping[str, str] = MappingProxyType({})


class Network(StrEnum):
    HOST = "HOST"
    BRIDGE = "BRIDGE"
    NONE = "NONE"
    USER = "USER"


class VolumeMode(StrEnum):
    RO = "RO"
    RW = "RW"


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A Mesos ``CommandInfo`` (``uris`` are the fetcher's business, not ours)."""

    shell: bool = True
    value: str | None = None
    arguments: tuple[str, ...] = ()
    user: str | None = None


@dataclass(frozen=True, slots=True)
class PortMapping:
    host_port: int
    container_port: int
    protocol: str = "tcp"  # tcp | udp | sctp


@dataclass(frozen=True, slots=True)
class Volume:
    """A host path made visible in the container.

    ``host_path`` is absolute (relative paths in the task were resolved against the
    sandbox); ``container_path`` is as given: relative means "inside the sandbox".
    """

    container_path: str
    host_path: str
    mode: VolumeMode = VolumeMode.RW


@dataclass(frozen=True, slots=True)
class DockerSpec:
    image: str
    network: Network = Network.HOST
    network_name: str | None = None  # the Docker network for USER
    port_mappings: tuple[PortMapping, ...] = ()
    privileged: bool = False
    parameters: tuple[tuple[str, str], ...] = ()  # extra `docker run --key=value` flags
    force_pull: bool = False


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """Everything a containerizer needs to run one task.

    ``cpus``/``mem_mb`` are the limits to enforce (the task's ``limits`` if it has them,
    else its resources); None means no limit.
    """

    task_id: str
    framework_id: str
    agent_id: str
    container_id: str
    executor_id: str
    name: str
    sandbox: Path
    command: CommandSpec | None
    env: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    cpus: float | None = None
    mem_mb: float | None = None
    disk_mb: float | None = None
    host_ports: tuple[int, ...] = ()
    docker: DockerSpec | None = None
    volumes: tuple[Volume, ...] = ()
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    kill_grace_seconds: float = DEFAULT_KILL_GRACE_SECONDS

    @property
    def port_mappings(self) -> tuple[PortMapping, ...]:
        """The Docker port mappings, empty for host processes and host networking."""
        return self.docker.port_mappings if self.docker is not None else ()

    @property
    def container_name(self) -> str:
        """Docker container name, Mesos style: ``mesos-<container_id>``."""
        return f"mesos-{self.container_id}"


def launch_spec(
    task: Mapping[str, Any],
    *,
    framework_id: str,
    agent_id: str,
    container_id: str,
    sandbox: Path,
    agent_hostname: str,
    extra_env: Mapping[str, str] = _EMPTY,
) -> LaunchSpec:
    """Build the ``LaunchSpec`` for a command task, or raise ``InvalidInput(path=...)``.

    Environment precedence (later wins): Mesos variables (``MESOS_*``, ``HOST``), then
    ``extra_env`` from the agent, then the task's own ``command.environment``.

    >>> spec = launch_spec(
    ...     {"name": "t", "task_id": {"value": "t1"}, "command": {"value": "echo hi"},
    ...      "resources": [{"name": "mem", "type": "SCALAR", "scalar": {"value": 64}}]},
    ...     framework_id="F", agent_id="S0", container_id="c1", sandbox=Path("/sb"),
    ...     agent_hostname="node1")
    >>> spec.command, spec.mem_mb, spec.env["MESOS_SANDBOX"]
    (CommandSpec(shell=True, value='echo hi', arguments=(), user=None), 64.0, '/sb')
    """
    if not isinstance(task, Mapping):
        raise InvalidInput("expected a TaskInfo object", path="")
    task_id = id_value(task.get("task_id"))
    if not task_id:
        raise InvalidInput("required: a TaskID object {'value': ...}", path="task_id")
    if task.get("executor") is not None:
        raise InvalidInput(
            "custom executors are not supported; use a command task", path="executor"
        )

    command = _command(task.get("command"))
    container = _object(task.get("container"), "container")
    docker = _docker(container) if container is not None else None
    if command is None and docker is None:
        raise InvalidInput("a task needs a command or a Docker image to run", path="command")
    if docker is None:
        _check_process_command(command)

    scalars, host_ports = _resources(task.get("resources"))
    limits = _limits(task.get("limits"))
    cpus = limits["cpus"] if "cpus" in limits else scalars.get("cpus")
    mem_mb = limits["mem"] if "mem" in limits else scalars.get("mem")

    if docker is not None and container is not None:
        _check_port_mappings(docker, host_ports, container)
    volumes = _volumes(container, sandbox) if container is not None else ()

    env: dict[str, str] = {
        "MESOS_SANDBOX": DOCKER_SANDBOX if docker is not None else str(sandbox),
        "MESOS_TASK_ID": task_id,
        "MESOS_FRAMEWORK_ID": framework_id,
        "MESOS_AGENT_ID": agent_id,
        "MESOS_CONTAINER_NAME": f"mesos-{container_id}",
        "HOST": agent_hostname,
    }
    env.update(extra_env)
    env.update(_environment(task.get("command")))

    return LaunchSpec(
        task_id=task_id,
        framework_id=framework_id,
        agent_id=agent_id,
        container_id=container_id,
        executor_id=task_id,
        name=_str(task.get("name"), "name") or task_id,
        sandbox=sandbox,
        command=command,
        env=MappingProxyType(env),
        cpus=cpus,
        mem_mb=mem_mb,
        disk_mb=scalars.get("disk"),
        host_ports=host_ports,
        docker=docker,
        volumes=volumes,
        labels=MappingProxyType(_labels(task.get("labels"), "labels")),
        kill_grace_seconds=_grace(task.get("kill_policy")),
    )


def process_argv(command: CommandSpec) -> tuple[str, tuple[str, ...]]:
    """The program and argv a host process runs for ``command``.

    >>> process_argv(CommandSpec(value="echo $HOME"))
    ('/bin/sh', ('/bin/sh', '-c', 'echo $HOME'))
    >>> process_argv(CommandSpec(shell=False, value="/bin/echo", arguments=("echo", "hi")))
    ('/bin/echo', ('echo', 'hi'))
    """
    _check_process_command(command)
    assert command.value is not None  # checked above
    if command.shell:
        return "/bin/sh", ("/bin/sh", "-c", command.value)
    return command.value, command.arguments or (command.value,)


def docker_command(command: CommandSpec | None) -> tuple[list[str] | None, list[str] | None]:
    """``(Entrypoint, Cmd)`` for a Docker container; None keeps the image's own.

    >>> docker_command(CommandSpec(value="echo hi"))
    (['/bin/sh', '-c'], ['echo hi'])
    >>> docker_command(CommandSpec(shell=False, arguments=("--port", "80")))
    (None, ['--port', '80'])
    >>> docker_command(None)
    (None, None)
    """
    if command is None or not command.value:
        if command is not None and command.arguments:
            return None, list(command.arguments)
        return None, None
    if command.shell:
        return ["/bin/sh", "-c"], [command.value]
    return [command.value], list(command.arguments[1:])


def command_info(
    raw: Mapping[str, Any], path: str = "command"
) -> tuple[CommandSpec, dict[str, str]]:
    """A standalone Mesos ``CommandInfo`` (a health check's, say) and its environment.

    >>> command_info({"value": "test -e ready", "environment": {"variables": [
    ...     {"name": "A", "value": "1"}]}})
    (CommandSpec(shell=True, value='test -e ready', arguments=(), user=None), {'A': '1'})
    """
    command = _command(raw, path)
    if command is None:
        raise InvalidInput("required: a CommandInfo object", path=path)
    return command, _environment(raw, path)


# -- parsing helpers -------------------------------------------------------------------


def _check_process_command(command: CommandSpec | None) -> None:
    if command is None or not command.value:
        raise InvalidInput(
            "a command task needs command.value (or a Docker image to run)",
            path="command.value",
        )


def _object(value: Any, path: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInput("expected an object", path=path)
    return value


def _list(value: Any, path: str) -> Sequence[Any]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidInput("expected an array", path=path)
    return value


def _str(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("expected a string", path=path)
    return value


def _bool(value: Any, path: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidInput("expected true or false", path=path)
    return value


def _number(value: Any, path: str, *, infinite: bool = False) -> float:
    """A JSON number; Mesos also accepts numbers as strings, and ``"Infinity"`` where
    ``infinite`` allows it (only limits have a use for it)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput("expected a number", path=path)
    try:
        result = float(value)
    except (ValueError, OverflowError):
        raise InvalidInput(f"expected a number, got {value!r}", path=path) from None
    if math.isnan(result) or (math.isinf(result) and not infinite):
        raise InvalidInput(f"expected a finite number, got {value!r}", path=path)
    return result


def _int(value: Any, path: str) -> int:
    number = _number(value, path)
    if not number.is_integer():
        raise InvalidInput(f"expected an integer, got {number}", path=path)
    return int(number)


def _command(raw: Any, base: str = "command") -> CommandSpec | None:
    obj = _object(raw, base)
    if obj is None:
        return None
    arguments = tuple(
        _str(a, f"{base}.arguments[{i}]") or ""
        for i, a in enumerate(_list(obj.get("arguments"), f"{base}.arguments"))
    )
    return CommandSpec(
        shell=_bool(obj.get("shell"), f"{base}.shell", True),
        value=_str(obj.get("value"), f"{base}.value") or None,
        arguments=arguments,
        user=_str(obj.get("user"), f"{base}.user") or None,
    )


def _environment(raw: Any, base: str = "command") -> dict[str, str]:
    command = _object(raw, base)
    if command is None:
        return {}
    environment = _object(command.get("environment"), f"{base}.environment")
    if environment is None:
        return {}
    env: dict[str, str] = {}
    path = f"{base}.environment.variables"
    for i, var in enumerate(_list(environment.get("variables"), path)):
        var = _object(var, f"{path}[{i}]") or {}
        name = _str(var.get("name"), f"{path}[{i}].name")
        if not name or "=" in name or "\0" in name:
            raise InvalidInput(
                "a variable needs a name without '=' or NUL", path=f"{path}[{i}].name"
            )
        if var.get("type", "VALUE") != "VALUE":
            raise InvalidInput("only VALUE variables are supported", path=f"{path}[{i}].type")
        env[name] = _str(var.get("value"), f"{path}[{i}].value") or ""
    return env


def _labels(raw: Any, path: str) -> dict[str, str]:
    obj = _object(raw, path)
    if obj is None:
        return {}
    labels: dict[str, str] = {}
    for i, label in enumerate(_list(obj.get("labels"), f"{path}.labels")):
        label = _object(label, f"{path}.labels[{i}]") or {}
        key = _str(label.get("key"), f"{path}.labels[{i}].key")
        if not key:
            raise InvalidInput("a label needs a key", path=f"{path}.labels[{i}].key")
        labels[key] = _str(label.get("value"), f"{path}.labels[{i}].value") or ""
    return labels


def _resources(raw: Any) -> tuple[dict[str, float], tuple[int, ...]]:
    """Summed scalars by name, and the sorted host ports of the ``ports`` resource."""
    scalars: dict[str, float] = {}
    ports: set[int] = set()
    for i, res in enumerate(_list(raw, "resources")):
        path = f"resources[{i}]"
        res = _object(res, path) or {}
        name = _str(res.get("name"), f"{path}.name")
        kind = res.get("type", "SCALAR")
        if kind == "SCALAR" and name is not None:
            scalar = _object(res.get("scalar"), f"{path}.scalar") or {}
            value = _number(scalar.get("value", 0), f"{path}.scalar.value")
            if value < 0:
                raise InvalidInput("must not be negative", path=f"{path}.scalar.value")
            scalars[name] = scalars.get(name, 0.0) + value
        elif kind == "RANGES" and name == "ports":
            ranges = _object(res.get("ranges"), f"{path}.ranges") or {}
            for j, rng in enumerate(_list(ranges.get("range"), f"{path}.ranges.range")):
                rpath = f"{path}.ranges.range[{j}]"
                rng = _object(rng, rpath) or {}
                begin = _int(rng.get("begin"), f"{rpath}.begin")
                end = _int(rng.get("end"), f"{rpath}.end")
                if not 0 < begin <= end < _MAX_PORTS:
                    raise InvalidInput(f"bad port range [{begin}-{end}]", path=rpath)
                ports.update(range(begin, end + 1))
    return scalars, tuple(sorted(ports))


def _limits(raw: Any) -> dict[str, float | None]:
    """``limits`` for cpus/mem; an infinite limit means "no limit" (None)."""
    obj = _object(raw, "limits")
    if obj is None:
        return {}
    limits: dict[str, float | None] = {}
    for name in ("cpus", "mem"):
        if name not in obj or obj[name] is None:
            continue
        value = obj[name]
        if isinstance(value, Mapping):
            value = value.get("value")
        number = _number(value, f"limits.{name}", infinite=True)
        if number <= 0:
            raise InvalidInput("must be positive", path=f"limits.{name}")
        limits[name] = None if math.isinf(number) else number
    return limits


def _grace(raw: Any) -> float:
    policy = _object(raw, "kill_policy")
    if policy is None:
        return DEFAULT_KILL_GRACE_SECONDS
    grace = _object(policy.get("grace_period"), "kill_policy.grace_period")
    if grace is None or grace.get("nanoseconds") is None:
        return DEFAULT_KILL_GRACE_SECONDS
    path = "kill_policy.grace_period.nanoseconds"
    nanos = _int(grace["nanoseconds"], path)
    if nanos < 0:
        raise InvalidInput("must not be negative", path=path)
    return nanos / 1e9


def _docker(container: Mapping[str, Any]) -> DockerSpec | None:
    kind = container.get("type", "MESOS")
    network_infos = _list(container.get("network_infos"), "container.network_infos")
    first_network = (
        _object(network_infos[0], "container.network_infos[0]") if network_infos else None
    )
    network_name = (
        _str(first_network.get("name"), "container.network_infos[0].name")
        if first_network
        else None
    )
    if kind == "DOCKER":
        docker = _object(container.get("docker"), "container.docker")
        image = _str(docker.get("image"), "container.docker.image") if docker else None
        if docker is None or not image:
            raise InvalidInput("a DOCKER container needs an image", path="container.docker.image")
        network_raw = docker.get("network", "HOST")
        try:
            network = Network(network_raw)
        except ValueError:
            raise InvalidInput(
                f"unknown network {network_raw!r}; expected one of HOST, BRIDGE, NONE, USER",
                path="container.docker.network",
            ) from None
        if network is Network.USER and not network_name:
            raise InvalidInput(
                "a USER network needs its name in container.network_infos[0].name",
                path="container.network_infos[0].name",
            )
        return DockerSpec(
            image=image,
            network=network,
            network_name=network_name if network is Network.USER else None,
            port_mappings=_port_mappings(
                docker.get("port_mappings"), "container.docker.port_mappings"
            ),
            privileged=_bool(docker.get("privileged"), "container.docker.privileged", False),
            parameters=_parameters(docker.get("parameters")),
            force_pull=_bool(
                docker.get("force_pull_image"), "container.docker.force_pull_image", False
            ),
        )
    if kind == "MESOS":
        mesos = _object(container.get("mesos"), "container.mesos")
        mesos_image = _object(mesos.get("image"), "container.mesos.image") if mesos else None
        if mesos_image is None:
            return None  # a plain host process with volumes
        if mesos_image.get("type", "DOCKER") != "DOCKER":
            raise InvalidInput(
                "only DOCKER images are supported", path="container.mesos.image.type"
            )
        ref = _object(mesos_image.get("docker"), "container.mesos.image.docker") or {}
        name = _str(ref.get("name"), "container.mesos.image.docker.name")
        if not name:
            raise InvalidInput("required: the image name", path="container.mesos.image.docker.name")
        # Mesos CNI networking: a named network is a Docker network; none means host.
        mappings: tuple[PortMapping, ...] = ()
        if first_network is not None:
            mappings = _port_mappings(
                first_network.get("port_mappings"), "container.network_infos[0].port_mappings"
            )
        return DockerSpec(
            image=name,
            network=Network.USER if network_name else Network.HOST,
            network_name=network_name or None,
            port_mappings=mappings,
            force_pull=not _bool(mesos_image.get("cached"), "container.mesos.image.cached", True),
        )
    raise InvalidInput(
        f"unknown container type {kind!r}; expected DOCKER or MESOS", path="container.type"
    )


def _port_mappings(raw: Any, path: str) -> tuple[PortMapping, ...]:
    mappings: list[PortMapping] = []
    for i, pm in enumerate(_list(raw, path)):
        ppath = f"{path}[{i}]"
        pm = _object(pm, ppath) or {}
        host_port = _int(pm.get("host_port"), f"{ppath}.host_port")
        container_port = _int(pm.get("container_port"), f"{ppath}.container_port")
        if not 0 < container_port < _MAX_PORTS:
            raise InvalidInput(f"bad port {container_port}", path=f"{ppath}.container_port")
        if not 0 < host_port < _MAX_PORTS:
            raise InvalidInput(
                f"bad port {host_port}; it must be one of the task's ports",
                path=f"{ppath}.host_port",
            )
        protocols = (_str(pm.get("protocol"), f"{ppath}.protocol") or "tcp").lower()
        for protocol in protocols.split(","):
            protocol = protocol.strip()
            if protocol not in ("tcp", "udp", "sctp"):
                raise InvalidInput(
                    f"unknown protocol {protocol!r}; expected tcp, udp or sctp",
                    path=f"{ppath}.protocol",
                )
            mappings.append(PortMapping(host_port, container_port, protocol))
    return tuple(mappings)


def _check_port_mappings(
    docker: DockerSpec, host_ports: tuple[int, ...], container: Mapping[str, Any]
) -> None:
    base = (
        "container.docker.port_mappings"
        if container.get("type") == "DOCKER"
        else "container.network_infos[0].port_mappings"
    )
    if docker.port_mappings and docker.network not in (Network.BRIDGE, Network.USER):
        raise InvalidInput(
            f"port mappings need a BRIDGE or USER network, not {docker.network}", path=base
        )
    assigned = set(host_ports)
    seen: set[tuple[int, str]] = set()
    for i, pm in enumerate(docker.port_mappings):
        if pm.host_port not in assigned:
            raise InvalidInput(
                f"host port {pm.host_port} is not among the task's ports resource",
                path=f"{base}[{i}].host_port",
            )
        if (pm.host_port, pm.protocol) in seen:
            raise InvalidInput(
                f"host port {pm.host_port}/{pm.protocol} is mapped twice",
                path=f"{base}[{i}].host_port",
            )
        seen.add((pm.host_port, pm.protocol))


def _parameters(raw: Any) -> tuple[tuple[str, str], ...]:
    params: list[tuple[str, str]] = []
    path = "container.docker.parameters"
    for i, p in enumerate(_list(raw, path)):
        p = _object(p, f"{path}[{i}]") or {}
        key = _str(p.get("key"), f"{path}[{i}].key")
        if not key:
            raise InvalidInput("a parameter needs a key", path=f"{path}[{i}].key")
        params.append((key, _str(p.get("value"), f"{path}[{i}].value") or ""))
    return tuple(params)


def _volumes(container: Mapping[str, Any], sandbox: Path) -> tuple[Volume, ...]:
    volumes: list[Volume] = []
    for i, vol in enumerate(_list(container.get("volumes"), "container.volumes")):
        path = f"container.volumes[{i}]"
        vol = _object(vol, path) or {}
        if vol.get("source") is not None or vol.get("image") is not None:
            raise InvalidInput("only host_path volumes are supported", path=f"{path}.source")
        container_path = _str(vol.get("container_path"), f"{path}.container_path")
        if not container_path:
            raise InvalidInput("required", path=f"{path}.container_path")
        host_path = _str(vol.get("host_path"), f"{path}.host_path")
        if not host_path:
            raise InvalidInput("required", path=f"{path}.host_path")
        if not posixpath.isabs(host_path):
            # Mesos: a relative host path lives in the sandbox; it must not climb out.
            normal = posixpath.normpath(host_path)
            if normal == ".." or normal.startswith("../"):
                raise InvalidInput(
                    "a relative host_path must stay in the sandbox", path=f"{path}.host_path"
                )
            host_path = str(sandbox / normal)
        if not posixpath.isabs(container_path):
            normal = posixpath.normpath(container_path)
            if normal in (".", "..") or normal.startswith("../"):
                raise InvalidInput(
                    "a relative container_path must stay in the sandbox",
                    path=f"{path}.container_path",
                )
            container_path = normal
        mode_raw = vol.get("mode", "RW")
        try:
            mode = VolumeMode(mode_raw)
        except ValueError:
            raise InvalidInput(
                f"unknown mode {mode_raw!r}; expected RO or RW", path=f"{path}.mode"
            ) from None
        volumes.append(Volume(container_path, host_path, mode))
    return tuple(volumes)
