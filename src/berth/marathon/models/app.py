"""The app definition: frozen, slotted dataclasses in Marathon 1.10's canonical form.

Every field of the Marathon app JSON has a home here, under its snake_case name, with
Marathon's default. Legacy request forms (``ports``, ``uris``, ``ipAddress``,
``container.docker.network``, ``container.docker.portMappings``) never reach this model:
``parse`` translates them. Version metadata (``version``, ``version_info``) rides along but
is not part of the configuration (``change.classify_change`` ignores it).

Defaults equal what ``parse_app`` gives an app that omits the field, so
``AppDefinition(id=PathId.parse("/web"), cmd="sleep 100")`` is the app POSTed as
``{"id": "web", "cmd": "sleep 100"}``: host networking with one dynamic port.

Maps are ``FrozenMap``s and lists are tuples, so apps are hashable and truly immutable;
change them with ``dataclasses.replace``.

Glossary: *port definitions* are host-networking ports (the ``port`` is the service port);
*port mappings* are container-networking ports (container, host and service port).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from berth.marathon.models.frozenmap import FrozenMap
from berth.marathon.models.pathid import PathId

# Label that makes an app single-instance (instances <= 1, upgrade 0/0).
SINGLE_INSTANCE_LABEL = "MARATHON_SINGLE_INSTANCE_APP"
DEFAULT_ROLE = "*"
# A mapping whose network name is "mesos-bridge" means the bridge (legacy ipAddress form).
MESOS_BRIDGE_NAME = "mesos-bridge"

EMPTY_LABELS: FrozenMap[str, str] = FrozenMap()


class EngineType(enum.StrEnum):
    DOCKER = "DOCKER"
    MESOS = "MESOS"


class NetworkMode(enum.StrEnum):
    CONTAINER = "container"
    BRIDGE = "container/bridge"
    HOST = "host"


class PortProtocol(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"
    UDP_TCP = "udp,tcp"


class HealthCheckProtocol(enum.StrEnum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"
    TCP = "TCP"
    COMMAND = "COMMAND"
    MESOS_HTTP = "MESOS_HTTP"
    MESOS_HTTPS = "MESOS_HTTPS"
    MESOS_TCP = "MESOS_TCP"

    @property
    def is_http(self) -> bool:
        """Checks that send an HTTP(S) request and so have a ``path``."""
        return self in _HTTP_PROTOCOLS

    @property
    def runs_on_agent(self) -> bool:
        """Mesos-side checks (run next to the task) as opposed to scheduler-side ones."""
        return self in _AGENT_PROTOCOLS


_HTTP_PROTOCOLS = frozenset(
    {
        HealthCheckProtocol.HTTP,
        HealthCheckProtocol.HTTPS,
        HealthCheckProtocol.MESOS_HTTP,
        HealthCheckProtocol.MESOS_HTTPS,
    }
)
_AGENT_PROTOCOLS = frozenset(
    {
        HealthCheckProtocol.COMMAND,
        HealthCheckProtocol.MESOS_HTTP,
        HealthCheckProtocol.MESOS_HTTPS,
        HealthCheckProtocol.MESOS_TCP,
    }
)


class IpProtocol(enum.StrEnum):
    IPV4 = "IPv4"
    IPV6 = "IPv6"


class ReadinessProtocol(enum.StrEnum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"


class KillSelection(enum.StrEnum):
    YOUNGEST_FIRST = "YOUNGEST_FIRST"
    OLDEST_FIRST = "OLDEST_FIRST"


class VolumeMode(enum.StrEnum):
    RO = "RO"
    RW = "RW"


class PersistentVolumeType(enum.StrEnum):
    ROOT = "root"
    PATH = "path"
    MOUNT = "mount"


class TaskLostBehavior(enum.StrEnum):
    WAIT_FOREVER = "WAIT_FOREVER"
    RELAUNCH_AFTER_TIMEOUT = "RELAUNCH_AFTER_TIMEOUT"


class IpcMode(enum.StrEnum):
    PRIVATE = "PRIVATE"
    SHARE_PARENT = "SHARE_PARENT"


class HttpScheme(enum.StrEnum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"


# -- ports and networks ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortDefinition:
    """A host-networking port; ``port`` is the service port (0 = assign one)."""

    port: int = 0
    protocol: PortProtocol = PortProtocol.TCP
    name: str | None = None
    labels: FrozenMap[str, str] = EMPTY_LABELS


DEFAULT_PORT_DEFINITION = PortDefinition(port=0, protocol=PortProtocol.TCP, name="default")


@dataclass(frozen=True, slots=True)
class PortMapping:
    """A container-networking port.

    ``container_port`` 0 means "the allocated host port"; ``host_port`` None means no host
    port (container networks), 0 a dynamic one; ``service_port`` 0 means "assign one".
    """

    container_port: int = 0
    host_port: int | None = None
    service_port: int = 0
    protocol: PortProtocol = PortProtocol.TCP
    name: str | None = None
    labels: FrozenMap[str, str] = EMPTY_LABELS
    network_names: tuple[str, ...] = ()


# What a non-host app gets when it declares no port mappings (hostPort set on bridge).
DEFAULT_PORT_MAPPING = PortMapping(name="default")


@dataclass(frozen=True, slots=True)
class Network:
    mode: NetworkMode = NetworkMode.CONTAINER
    name: str | None = None
    labels: FrozenMap[str, str] = EMPTY_LABELS


HOST_NETWORK = Network(mode=NetworkMode.HOST)
BRIDGE_NETWORK = Network(mode=NetworkMode.BRIDGE)

# -- container ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DockerParameter:
    """A ``docker run`` flag (``--key=value``), honoured by the Docker engine only."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class PullConfig:
    """Registry credentials taken from a secret (MESOS engine with secrets only)."""

    secret: str


@dataclass(frozen=True, slots=True)
class DockerSpec:
    image: str
    force_pull_image: bool = False
    privileged: bool = False
    parameters: tuple[DockerParameter, ...] = ()
    pull_config: PullConfig | None = None


@dataclass(frozen=True, slots=True)
class HostVolume:
    container_path: str
    host_path: str
    mode: VolumeMode = VolumeMode.RW


@dataclass(frozen=True, slots=True)
class PersistentInfo:
    size: int
    type: PersistentVolumeType = PersistentVolumeType.ROOT
    max_size: int | None = None
    profile_name: str | None = None
    constraints: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class PersistentVolume:
    """A local persistent volume; makes the app resident (pinned to its agents)."""

    container_path: str
    persistent: PersistentInfo
    mode: VolumeMode = VolumeMode.RW


@dataclass(frozen=True, slots=True)
class ExternalInfo:
    name: str | None = None
    provider: str | None = None
    options: FrozenMap[str, str] = EMPTY_LABELS
    size: int | None = None


@dataclass(frozen=True, slots=True)
class ExternalVolume:
    container_path: str
    external: ExternalInfo
    mode: VolumeMode = VolumeMode.RW


@dataclass(frozen=True, slots=True)
class SecretVolume:
    """A file in the container holding the value of one of the app's ``secrets``."""

    container_path: str
    secret: str


Volume = HostVolume | PersistentVolume | ExternalVolume | SecretVolume


@dataclass(frozen=True, slots=True)
class Seccomp:
    profile_name: str | None = None
    unconfined: bool = False


@dataclass(frozen=True, slots=True)
class IpcInfo:
    mode: IpcMode
    shm_size: int | None = None


@dataclass(frozen=True, slots=True)
class LinuxInfo:
    seccomp: Seccomp | None = None
    ipc_info: IpcInfo | None = None


@dataclass(frozen=True, slots=True)
class Container:
    """``port_mappings`` are meaningful on container/bridge networks only (empty on host)."""

    type: EngineType = EngineType.DOCKER
    docker: DockerSpec | None = None
    volumes: tuple[Volume, ...] = ()
    port_mappings: tuple[PortMapping, ...] = ()
    linux_info: LinuxInfo | None = None


# -- checks ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """One health check (reference section 3.5).

    ``port_index`` indexes the port mappings (non-host) or port definitions (host); ``port``
    overrides it. ``path`` is set for HTTP-like protocols only; ``command`` (the shell text
    of ``{"value": ...}``) for COMMAND only.
    """

    protocol: HealthCheckProtocol = HealthCheckProtocol.HTTP
    path: str | None = "/"
    port_index: int | None = None
    port: int | None = None
    command: str | None = None
    grace_period_seconds: int = 300
    interval_seconds: int = 60
    timeout_seconds: int = 20
    max_consecutive_failures: int = 3
    delay_seconds: int = 15
    ignore_http1xx: bool = False
    ip_protocol: IpProtocol = IpProtocol.IPV4


@dataclass(frozen=True, slots=True)
class ReadinessCheck:
    name: str = "readinessCheck"
    protocol: ReadinessProtocol = ReadinessProtocol.HTTP
    path: str = "/"
    port_name: str = "http-api"
    interval_seconds: int = 30
    timeout_seconds: int = 10
    http_status_codes_for_ready: tuple[int, ...] = (200,)
    preserve_last_response: bool = False


@dataclass(frozen=True, slots=True)
class CheckCommand:
    """The command of an ``exec`` check: a shell string or an argv list (one of them)."""

    shell: str | None = None
    argv: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class HttpCheck:
    port_index: int | None = None
    port: int | None = None
    path: str | None = None
    scheme: HttpScheme | None = None


@dataclass(frozen=True, slots=True)
class TcpCheck:
    port_index: int | None = None
    port: int | None = None


@dataclass(frozen=True, slots=True)
class AppCheck:
    """The 1.10 ``check`` (a Mesos check whose result is reported, never acted on).

    Exactly one of ``http``, ``tcp`` and ``command`` (the ``exec`` form) should be set.
    """

    http: HttpCheck | None = None
    tcp: TcpCheck | None = None
    command: CheckCommand | None = None
    interval_seconds: int = 60
    timeout_seconds: int = 20
    delay_seconds: int = 15


# -- scheduling --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Constraint:
    """``[field, operator, value?]``; ``operator`` is upper-cased when it is a known one."""

    field: str
    operator: str
    value: str | None = None


@dataclass(frozen=True, slots=True)
class UpgradeStrategy:
    minimum_health_capacity: float = 1.0
    maximum_over_capacity: float = 1.0


RESIDENT_UPGRADE_STRATEGY = UpgradeStrategy(0.5, 0.0)
SINGLE_INSTANCE_UPGRADE_STRATEGY = UpgradeStrategy(0.0, 0.0)


@dataclass(frozen=True, slots=True)
class UnreachableEnabled:
    inactive_after_seconds: int = 0
    expunge_after_seconds: int = 0


@dataclass(frozen=True, slots=True)
class UnreachableDisabled:
    """``"disabled"``: never replace unreachable instances (required for resident apps)."""


UNREACHABLE_DISABLED = UnreachableDisabled()
UnreachableStrategy = UnreachableEnabled | UnreachableDisabled


@dataclass(frozen=True, slots=True)
class Residency:
    """Deprecated and without effect; added automatically for persistent volumes."""

    relaunch_escalation_timeout_seconds: int = 3600
    task_lost_behavior: TaskLostBehavior = TaskLostBehavior.WAIT_FOREVER


# -- everything else ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchUri:
    uri: str
    extract: bool = True
    executable: bool = False
    cache: bool = False
    dest_path: str | None = None


@dataclass(frozen=True, slots=True)
class EnvSecretRef:
    """An environment value taken from the app's secret named ``secret``."""

    secret: str


EnvValue = str | EnvSecretRef


@dataclass(frozen=True, slots=True)
class Secret:
    source: str


@dataclass(frozen=True, slots=True)
class ExecutorResources:
    cpus: float = 0.1
    mem: float = 32.0
    disk: float = 10.0


@dataclass(frozen=True, slots=True)
class ResourceLimits:
    """Limits above the requested resources; ``math.inf`` renders as ``"unlimited"``."""

    cpus: float | None = None
    mem: float | None = None


@dataclass(frozen=True, slots=True)
class VersionInfo:
    last_scaling_at: datetime
    last_config_change_at: datetime


_NO_ENV: FrozenMap[str, EnvValue] = FrozenMap()
_NO_SECRETS: FrozenMap[str, Secret] = FrozenMap()


@dataclass(frozen=True, slots=True)
class AppDefinition:
    """One version of an app, normalized (reference sections 2.1-2.3)."""

    id: PathId
    cmd: str | None = None
    args: tuple[str, ...] = ()
    user: str | None = None
    env: FrozenMap[str, EnvValue] = _NO_ENV
    instances: int = 1
    cpus: float = 1.0
    mem: float = 128.0
    disk: float = 0.0
    gpus: int = 0
    executor: str = ""
    constraints: tuple[Constraint, ...] = ()
    fetch: tuple[FetchUri, ...] = ()
    store_urls: tuple[str, ...] = ()
    port_definitions: tuple[PortDefinition, ...] = (DEFAULT_PORT_DEFINITION,)
    require_ports: bool = False
    backoff_seconds: int = 1
    backoff_factor: float = 1.15
    max_launch_delay_seconds: int = 300
    container: Container | None = None
    networks: tuple[Network, ...] = (HOST_NETWORK,)
    health_checks: tuple[HealthCheck, ...] = ()
    readiness_checks: tuple[ReadinessCheck, ...] = ()
    dependencies: tuple[PathId, ...] = ()
    upgrade_strategy: UpgradeStrategy = UpgradeStrategy()
    labels: FrozenMap[str, str] = EMPTY_LABELS
    accepted_resource_roles: tuple[str, ...] | None = None
    role: str = DEFAULT_ROLE
    kill_selection: KillSelection = KillSelection.YOUNGEST_FIRST
    unreachable_strategy: UnreachableStrategy = UnreachableEnabled()
    task_kill_grace_period_seconds: int | None = None
    residency: Residency | None = None
    secrets: FrozenMap[str, Secret] = _NO_SECRETS
    tty: bool | None = None
    check: AppCheck | None = None
    executor_resources: ExecutorResources | None = None
    resource_limits: ResourceLimits | None = None
    # Metadata, not configuration.
    version: datetime | None = None
    version_info: VersionInfo | None = None

    @property
    def is_host_networking(self) -> bool:
        """True when the app shares the agent's network namespace."""
        return all(n.mode is NetworkMode.HOST for n in self.networks)

    @property
    def port_mappings(self) -> tuple[PortMapping, ...]:
        return self.container.port_mappings if self.container is not None else ()

    @property
    def service_ports(self) -> tuple[int, ...]:
        """Service ports in port-index order (0 = not assigned yet).

        >>> AppDefinition(id=PathId.parse("/web"), cmd="run").service_ports
        (0,)
        """
        if self.is_host_networking:
            return tuple(p.port for p in self.port_definitions)
        return tuple(m.service_port for m in self.port_mappings)

    @property
    def port_names(self) -> tuple[str | None, ...]:
        """Port names in port-index order (what ``portIndex`` and ``portName`` address)."""
        if self.is_host_networking:
            return tuple(p.name for p in self.port_definitions)
        return tuple(m.name for m in self.port_mappings)

    @property
    def has_persistent_volumes(self) -> bool:
        return self.container is not None and any(
            isinstance(v, PersistentVolume) for v in self.container.volumes
        )

    @property
    def has_external_volumes(self) -> bool:
        return self.container is not None and any(
            isinstance(v, ExternalVolume) for v in self.container.volumes
        )

    @property
    def is_resident(self) -> bool:
        """Resident apps keep reservations and volumes on their agents."""
        return self.residency is not None or self.has_persistent_volumes

    @property
    def is_single_instance(self) -> bool:
        return self.labels.get(SINGLE_INSTANCE_LABEL) == "true"

    @property
    def docker_image(self) -> str | None:
        if self.container is None or self.container.docker is None:
            return None
        return self.container.docker.image
