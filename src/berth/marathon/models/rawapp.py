"""Stage 1 of app parsing: JSON -> raw records, with Play-style shape errors.

``read_raw_app`` reads every field of an app body into a ``RawApp`` whose fields are None
when the body omitted them (``null`` counts as omitted). Types, enum values (matched
case-insensitively), string patterns and schema bounds are checked here and reported with
Play's codes at their JSON paths; semantic rules wait for ``validate``. Sub-objects
without legacy forms are read straight into the model's dataclasses; the records keep
only what the legacy translation (``parse``) needs to see: ``ipAddress``,
``container.docker.network`` and ``container.docker.portMappings``, ``ports``, ``uris``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from berth.marathon.models.app import (
    UNREACHABLE_DISABLED,
    AppCheck,
    CheckCommand,
    Constraint,
    DockerParameter,
    EngineType,
    EnvSecretRef,
    EnvValue,
    ExecutorResources,
    ExternalInfo,
    ExternalVolume,
    FetchUri,
    HealthCheck,
    HealthCheckProtocol,
    HostVolume,
    HttpCheck,
    HttpScheme,
    IpcInfo,
    IpcMode,
    IpProtocol,
    KillSelection,
    LinuxInfo,
    Network,
    NetworkMode,
    PersistentInfo,
    PersistentVolume,
    PersistentVolumeType,
    PortDefinition,
    PortMapping,
    PortProtocol,
    PullConfig,
    ReadinessCheck,
    ReadinessProtocol,
    Residency,
    ResourceLimits,
    Seccomp,
    Secret,
    SecretVolume,
    TaskLostBehavior,
    TcpCheck,
    UnreachableEnabled,
    UnreachableStrategy,
    UpgradeStrategy,
    VersionInfo,
    Volume,
    VolumeMode,
)
from berth.marathon.models.frozenmap import FrozenMap
from berth.marathon.models.jsonread import INT64, Cursor
from berth.marathon.models.timestamps import parse_timestamp

# Marathon's "Name"/"LegacyName" (DNS-label-like) for ports and networks.
NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
EXECUTOR = re.compile(r"(//cmd)|(/?[^/]+(/[^/]+)*)|")
PORT_MAX = 65535
CONSTRAINT_OPERATORS = ("UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS")


class DockerNetwork(enum.StrEnum):
    """The legacy ``container.docker.network``."""

    BRIDGE = "BRIDGE"
    HOST = "HOST"
    NONE = "NONE"
    USER = "USER"


# -- stage 1: read -----------------------------------------------------------------------
# The raw records hold what the body said, None meaning "absent"; they are internal.


@dataclass(slots=True)
class RawDocker:
    image: str | None = None
    force_pull_image: bool | None = None
    privileged: bool | None = None
    parameters: tuple[DockerParameter, ...] | None = None
    pull_config: PullConfig | None = None
    network: DockerNetwork | None = None
    port_mappings: tuple[PortMapping, ...] | None = None
    credential: bool = False


@dataclass(slots=True)
class RawContainer:
    type: EngineType | None = None
    docker: RawDocker | None = None
    volumes: tuple[Volume, ...] | None = None
    port_mappings: tuple[PortMapping, ...] | None = None
    linux_info: LinuxInfo | None = None


@dataclass(slots=True)
class RawIpAddress:
    network_name: str | None = None
    labels: FrozenMap[str, str] | None = None
    discovery_ports: tuple[PortMapping, ...] | None = None


@dataclass(slots=True)
class RawApp:
    """What an app body said, field by field; None means absent. Internal to parsing."""

    id: str | None = None
    cmd: str | None = None
    args: tuple[str, ...] | None = None
    user: str | None = None
    env: FrozenMap[str, EnvValue] | None = None
    instances: int | None = None
    cpus: float | None = None
    mem: float | None = None
    disk: float | None = None
    gpus: int | None = None
    executor: str | None = None
    constraints: tuple[Constraint, ...] | None = None
    fetch: tuple[FetchUri, ...] | None = None
    uris: tuple[str, ...] | None = None
    store_urls: tuple[str, ...] | None = None
    port_definitions: tuple[PortDefinition, ...] | None = None
    ports: tuple[int, ...] | None = None
    require_ports: bool | None = None
    backoff_seconds: int | None = None
    backoff_factor: float | None = None
    max_launch_delay_seconds: int | None = None
    container: RawContainer | None = None
    networks: tuple[Network, ...] | None = None
    health_checks: tuple[HealthCheck, ...] | None = None
    readiness_checks: tuple[ReadinessCheck, ...] | None = None
    dependencies: tuple[str, ...] | None = None
    upgrade_strategy: UpgradeStrategy | None = None
    labels: FrozenMap[str, str] | None = None
    accepted_resource_roles: tuple[str, ...] | None = None
    role: str | None = None
    kill_selection: KillSelection | None = None
    unreachable_strategy: UnreachableStrategy | None = None
    task_kill_grace_period_seconds: int | None = None
    residency: Residency | None = None
    secrets: FrozenMap[str, Secret] | None = None
    tty: bool | None = None
    check: AppCheck | None = None
    executor_resources: ExecutorResources | None = None
    resource_limits: ResourceLimits | None = None
    ip_address: RawIpAddress | None = None
    version: datetime | None = None
    version_info: VersionInfo | None = None


def read_raw_app(c: Cursor, *, require_id: bool) -> RawApp:
    """Stage 1: read every field of the app body at ``c``; shape problems go to its reader.

    Exposed (with ``build_app``) for bodies that embed apps, such as group updates.
    """
    if c.object(required=True) is None:
        return RawApp()
    g = c.get
    return RawApp(
        id=g("id").string(required=require_id),
        cmd=g("cmd").string(min_length=1),
        args=g("args").strings(),
        user=g("user").string(),
        env=_read_env(g("env")),
        instances=g("instances").integer(minimum=0),
        cpus=g("cpus").number(minimum=0.001),
        mem=g("mem").number(minimum=0),
        disk=g("disk").number(minimum=0),
        gpus=g("gpus").integer(minimum=0),
        executor=g("executor").string(pattern=EXECUTOR),
        constraints=g("constraints").list_of(_read_constraint),
        fetch=g("fetch").list_of(_read_fetch),
        uris=g("uris").strings(min_length=1, max_length=1024),
        store_urls=g("storeUrls").strings(min_length=1),
        port_definitions=g("portDefinitions").list_of(_read_port_definition),
        ports=g("ports").list_of(lambda p: p.integer(required=True, minimum=0, maximum=PORT_MAX)),
        require_ports=g("requirePorts").boolean(),
        backoff_seconds=g("backoffSeconds").integer(minimum=0),
        backoff_factor=g("backoffFactor").number(minimum=1.0),
        max_launch_delay_seconds=g("maxLaunchDelaySeconds").integer(minimum=0),
        container=_read_container(g("container")),
        networks=g("networks").list_of(_read_network),
        health_checks=g("healthChecks").list_of(_read_health_check),
        readiness_checks=g("readinessChecks").list_of(_read_readiness_check),
        dependencies=g("dependencies").strings(),
        upgrade_strategy=_read_upgrade_strategy(g("upgradeStrategy")),
        labels=g("labels").string_map(),
        accepted_resource_roles=g("acceptedResourceRoles").strings(),
        role=g("role").string(),
        kill_selection=g("killSelection").enum(KillSelection),
        unreachable_strategy=_read_unreachable(g("unreachableStrategy")),
        task_kill_grace_period_seconds=g("taskKillGracePeriodSeconds").integer(minimum=0),
        residency=_read_residency(g("residency")),
        secrets=_read_secrets(g("secrets")),
        tty=g("tty").boolean(),
        check=_read_check(g("check")),
        executor_resources=_read_executor_resources(g("executorResources")),
        resource_limits=_read_resource_limits(g("resourceLimits")),
        ip_address=_read_ip_address(g("ipAddress")),
        version=g("version").timestamp(),
        version_info=_read_version_info(g("versionInfo").value),
    )


def _read_env(c: Cursor) -> FrozenMap[str, EnvValue] | None:
    members = c.object()
    if members is None:
        return None
    env: dict[str, EnvValue] = {}
    for name, member in members.items():
        if isinstance(member.value, dict):
            secret = member.get("secret").string(required=True)
            if secret is not None:
                env[name] = EnvSecretRef(secret)
        else:
            text = member.string(required=True)
            if text is not None:
                env[name] = text
    return FrozenMap(env)


def _read_secrets(c: Cursor) -> FrozenMap[str, Secret] | None:
    members = c.object()
    if members is None:
        return None
    secrets: dict[str, Secret] = {}
    for name, member in members.items():
        if member.object(required=True) is None:
            continue
        source = member.get("source").string(required=True)
        if source is not None:
            secrets[name] = Secret(source)
    return FrozenMap(secrets)


def _read_constraint(c: Cursor) -> Constraint | None:
    items = c.array(required=True)
    if items is None:
        return None
    parts = [item.string(required=True) for item in items]
    if any(p is None for p in parts):
        return None
    if len(parts) not in (2, 3):
        c.reader.violation(
            c.path,
            "Each constraint must have either 2 or 3 fields: [field, operator] or "
            f"[field, operator, value]; got {len(parts)}",
        )
        return None
    field_, operator = parts[0] or "", parts[1] or ""
    # Operators are matched case-insensitively (1.10 validated lower case, then failed).
    if operator.upper() in CONSTRAINT_OPERATORS:
        operator = operator.upper()
    return Constraint(field_, operator, parts[2] if len(parts) == 3 else None)


def _read_fetch(c: Cursor) -> FetchUri | None:
    if c.object(required=True) is None:
        return None
    uri = c.get("uri").string(required=True, min_length=1, max_length=1024)
    extract = c.get("extract").boolean()
    executable = c.get("executable").boolean()
    cache = c.get("cache").boolean()
    dest_path = c.get("destPath").string()
    if uri is None:
        return None
    return FetchUri(
        uri=uri,
        extract=True if extract is None else extract,
        executable=bool(executable),
        cache=bool(cache),
        dest_path=dest_path,
    )


def _read_port_definition(c: Cursor) -> PortDefinition | None:
    if c.object(required=True) is None:
        return None
    port = c.get("port").integer(minimum=0, maximum=PORT_MAX)
    protocol = c.get("protocol").enum(PortProtocol)
    name = c.get("name").string(pattern=NAME)
    labels = c.get("labels").string_map()
    return PortDefinition(
        port=port or 0,
        protocol=protocol or PortProtocol.TCP,
        name=name,
        labels=labels or FrozenMap(),
    )


def _read_port_mapping(c: Cursor) -> PortMapping | None:
    if c.object(required=True) is None:
        return None
    container_port = c.get("containerPort").integer(minimum=0, maximum=PORT_MAX)
    host_port = c.get("hostPort").integer(minimum=0, maximum=PORT_MAX)
    service_port = c.get("servicePort").integer(minimum=0, maximum=PORT_MAX)
    protocol = c.get("protocol").enum(PortProtocol)
    name = c.get("name").string(pattern=NAME)
    labels = c.get("labels").string_map()
    network_names = c.get("networkNames").strings(pattern=NAME, max_length=63)
    return PortMapping(
        container_port=container_port or 0,
        host_port=host_port,
        service_port=service_port or 0,
        protocol=protocol or PortProtocol.TCP,
        name=name,
        labels=labels or FrozenMap(),
        network_names=network_names or (),
    )


def _read_network(c: Cursor) -> Network | None:
    if c.object(required=True) is None:
        return None
    mode = c.get("mode").enum(NetworkMode)
    name = c.get("name").string(pattern=NAME, max_length=63)
    labels = c.get("labels").string_map()
    return Network(mode=mode or NetworkMode.CONTAINER, name=name, labels=labels or FrozenMap())


def _read_health_check(c: Cursor) -> HealthCheck | None:
    if c.object(required=True) is None:
        return None
    g = c.get
    protocol = g("protocol").enum(HealthCheckProtocol) or HealthCheckProtocol.HTTP
    command: str | None = None
    if g("command").object() is not None:
        command = g("command").get("value").string(required=True)
        # A command makes it a command check, whatever the protocol said (legacy form).
        protocol = HealthCheckProtocol.COMMAND
    path = g("path").string()
    port_index = g("portIndex").integer(minimum=0, maximum=PORT_MAX)
    port = g("port").integer(minimum=0, maximum=PORT_MAX)
    grace = g("gracePeriodSeconds").integer(minimum=0)
    interval = g("intervalSeconds").integer(minimum=0)
    timeout = g("timeoutSeconds").integer(minimum=0)
    failures = g("maxConsecutiveFailures").integer(minimum=0)
    delay = g("delaySeconds").integer(minimum=0)
    ignore_1xx = g("ignoreHttp1xx").boolean()
    ip_protocol = g("ipProtocol").enum(IpProtocol)
    is_command = protocol is HealthCheckProtocol.COMMAND
    defaults = HealthCheck()
    return HealthCheck(
        protocol=protocol,
        # Fields a protocol does not use are dropped, so equal checks compare equal.
        path=(path or "/") if protocol.is_http else None,
        port_index=None if is_command else port_index,
        port=None if is_command else port,
        command=command,
        grace_period_seconds=defaults.grace_period_seconds if grace is None else grace,
        interval_seconds=defaults.interval_seconds if interval is None else interval,
        timeout_seconds=defaults.timeout_seconds if timeout is None else timeout,
        max_consecutive_failures=(
            defaults.max_consecutive_failures if failures is None else failures
        ),
        delay_seconds=defaults.delay_seconds if delay is None else delay,
        # Only the scheduler's own HTTP checks can ignore 1xx answers.
        ignore_http1xx=bool(ignore_1xx)
        if protocol in (HealthCheckProtocol.HTTP, HealthCheckProtocol.HTTPS)
        else False,
        ip_protocol=IpProtocol.IPV4 if is_command else (ip_protocol or IpProtocol.IPV4),
    )


def _read_readiness_check(c: Cursor) -> ReadinessCheck | None:
    if c.object(required=True) is None:
        return None
    g = c.get
    d = ReadinessCheck()
    name = g("name").string(min_length=1)
    protocol = g("protocol").enum(ReadinessProtocol)
    path = g("path").string(min_length=1)
    port_name = g("portName").string(min_length=1)
    interval = g("intervalSeconds").integer(minimum=1)
    timeout = g("timeoutSeconds").integer(minimum=1)
    codes = g("httpStatusCodesForReady").list_of(
        lambda s: s.integer(required=True, minimum=100, maximum=999)
    )
    preserve = g("preserveLastResponse").boolean()
    return ReadinessCheck(
        name=name or d.name,
        protocol=protocol or d.protocol,
        path=path or d.path,
        port_name=port_name or d.port_name,
        interval_seconds=d.interval_seconds if interval is None else interval,
        timeout_seconds=d.timeout_seconds if timeout is None else timeout,
        # An empty list means the default, as in Marathon's normalization.
        http_status_codes_for_ready=codes or d.http_status_codes_for_ready,
        preserve_last_response=bool(preserve),
    )


def _read_upgrade_strategy(c: Cursor) -> UpgradeStrategy | None:
    if c.object() is None:
        return None
    # 1.5+ schemas require both keys; a missing one is taken as 1.0 (reference 2.1).
    minimum = c.get("minimumHealthCapacity").number(minimum=0.0, maximum=1.0)
    maximum = c.get("maximumOverCapacity").number(minimum=0.0, maximum=1.0)
    return UpgradeStrategy(
        minimum_health_capacity=1.0 if minimum is None else minimum,
        maximum_over_capacity=1.0 if maximum is None else maximum,
    )


def _read_unreachable(c: Cursor) -> UnreachableStrategy | None:
    if not c.present:
        return None
    if isinstance(c.value, str):
        if c.value.lower() == "disabled":
            return UNREACHABLE_DISABLED
        c.reader.error(c.path, "error.unknown.enum.literal")
        return None
    if c.object() is None:
        return None
    inactive = c.get("inactiveAfterSeconds").integer(minimum=0, bounds=INT64)
    expunge = c.get("expungeAfterSeconds").integer(minimum=0, bounds=INT64)
    return UnreachableEnabled(inactive or 0, expunge or 0)


def _read_residency(c: Cursor) -> Residency | None:
    if c.object() is None:
        return None
    timeout = c.get("relaunchEscalationTimeoutSeconds").integer(minimum=0, bounds=INT64)
    behavior = c.get("taskLostBehavior").enum(TaskLostBehavior)
    d = Residency()
    return Residency(
        relaunch_escalation_timeout_seconds=(
            d.relaunch_escalation_timeout_seconds if timeout is None else timeout
        ),
        task_lost_behavior=behavior or d.task_lost_behavior,
    )


def _read_check(c: Cursor) -> AppCheck | None:
    if c.object() is None:
        return None
    g = c.get
    http = tcp = None
    command = None
    if g("http").object() is not None:
        h = g("http")
        http = HttpCheck(
            port_index=h.get("portIndex").integer(minimum=0, maximum=PORT_MAX),
            port=h.get("port").integer(minimum=0, maximum=PORT_MAX),
            path=h.get("path").string(),
            scheme=h.get("scheme").enum(HttpScheme),
        )
    if g("tcp").object() is not None:
        t = g("tcp")
        tcp = TcpCheck(
            port_index=t.get("portIndex").integer(minimum=0, maximum=PORT_MAX),
            port=t.get("port").integer(minimum=0, maximum=PORT_MAX),
        )
    if g("exec").object() is not None:
        cmd = g("exec").get("command")
        if cmd.object(required=True) is not None:
            command = CheckCommand(shell=cmd.get("shell").string(), argv=cmd.get("argv").strings())
    d = AppCheck()
    interval = g("intervalSeconds").integer(minimum=0)
    timeout = g("timeoutSeconds").integer(minimum=0)
    delay = g("delaySeconds").integer(minimum=0)
    return AppCheck(
        http=http,
        tcp=tcp,
        command=command,
        interval_seconds=d.interval_seconds if interval is None else interval,
        timeout_seconds=d.timeout_seconds if timeout is None else timeout,
        delay_seconds=d.delay_seconds if delay is None else delay,
    )


def _read_executor_resources(c: Cursor) -> ExecutorResources | None:
    if c.object() is None:
        return None
    d = ExecutorResources()
    cpus = c.get("cpus").number(minimum=0)
    mem = c.get("mem").number(minimum=0)
    disk = c.get("disk").number(minimum=0)
    return ExecutorResources(
        cpus=d.cpus if cpus is None else cpus,
        mem=d.mem if mem is None else mem,
        disk=d.disk if disk is None else disk,
    )


def _read_limit(c: Cursor) -> float | None:
    if isinstance(c.value, str):
        if c.value.lower() == "unlimited":
            return float("inf")
        c.reader.error(c.path, "error.unknown.enum.literal")
        return None
    return c.number(minimum=0)


def _read_resource_limits(c: Cursor) -> ResourceLimits | None:
    if c.object() is None:
        return None
    return ResourceLimits(cpus=_read_limit(c.get("cpus")), mem=_read_limit(c.get("mem")))


def _read_ip_address(c: Cursor) -> RawIpAddress | None:
    if c.object() is None:
        return None
    network_name = c.get("networkName").string(min_length=1)
    labels = c.get("labels").string_map()
    c.get("groups").strings()  # accepted and ignored, as by Marathon
    ports = None
    discovery = c.get("discovery")
    if discovery.object() is not None:
        ports = discovery.get("ports").list_of(_read_discovery_port)
    return RawIpAddress(network_name=network_name, labels=labels, discovery_ports=ports)


def _read_discovery_port(c: Cursor) -> PortMapping | None:
    if c.object(required=True) is None:
        return None
    number = c.get("number").integer(minimum=0, maximum=PORT_MAX)
    name = c.get("name").string(required=True, pattern=NAME)
    protocol = c.get("protocol").enum(PortProtocol)
    labels = c.get("labels").string_map()
    # The old IP-per-container API could not map container ports to host ports.
    return PortMapping(
        container_port=number or 0,
        host_port=None,
        name=name,
        protocol=protocol or PortProtocol.TCP,
        labels=labels or FrozenMap(),
    )


def _read_version_info(value: object) -> VersionInfo | None:
    # Read-only metadata echoed back by clients: taken when well-formed, never an error.
    if not isinstance(value, dict):
        return None
    try:
        return VersionInfo(
            last_scaling_at=parse_timestamp(value["lastScalingAt"]),
            last_config_change_at=parse_timestamp(value["lastConfigChangeAt"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _read_container(c: Cursor) -> RawContainer | None:
    if c.object() is None:
        return None
    return RawContainer(
        type=c.get("type").enum(EngineType),
        docker=_read_docker(c.get("docker")),
        volumes=c.get("volumes").list_of(_read_volume),
        port_mappings=c.get("portMappings").list_of(_read_port_mapping),
        linux_info=_read_linux_info(c.get("linuxInfo")),
    )


def _read_docker(c: Cursor) -> RawDocker | None:
    if c.object() is None:
        return None
    g = c.get
    pull_config = None
    if g("pullConfig").object() is not None:
        secret = g("pullConfig").get("secret").string(required=True)
        pull_config = None if secret is None else PullConfig(secret)
    parameters = g("parameters").list_of(_read_docker_parameter)
    return RawDocker(
        image=g("image").string(required=True, min_length=1),
        force_pull_image=g("forcePullImage").boolean(),
        privileged=g("privileged").boolean(),
        parameters=parameters,
        pull_config=pull_config,
        network=g("network").enum(DockerNetwork),
        port_mappings=g("portMappings").list_of(_read_port_mapping),
        credential=g("credential").present,
    )


def _read_docker_parameter(c: Cursor) -> DockerParameter | None:
    if c.object(required=True) is None:
        return None
    key = c.get("key").string(required=True, min_length=1)
    value = c.get("value").string(required=True)
    return None if key is None or value is None else DockerParameter(key, value)


def _read_volume(c: Cursor) -> Volume | None:
    if c.object(required=True) is None:
        return None
    g = c.get
    container_path = g("containerPath").string(required=True, min_length=1)
    mode = g("mode").enum(VolumeMode) or VolumeMode.RW
    if c.has("persistent") and c.has("external"):
        c.reader.violation(c.path, "illegal combination of persistent and external volume fields")
        return None
    if c.has("persistent"):
        p = g("persistent")
        p.object()
        size = p.get("size").integer(required=True, minimum=0, bounds=INT64)
        info = PersistentInfo(
            size=size or 0,
            type=p.get("type").enum(PersistentVolumeType) or PersistentVolumeType.ROOT,
            max_size=p.get("maxSize").integer(minimum=0, bounds=INT64),
            profile_name=p.get("profileName").string(),
            constraints=p.get("constraints").list_of(lambda k: k.strings()) or (),
        )
        return None if container_path is None else PersistentVolume(container_path, info, mode)
    if c.has("external"):
        e = g("external")
        e.object()
        info_e = ExternalInfo(
            name=e.get("name").string(),
            provider=e.get("provider").string(),
            options=e.get("options").string_map() or FrozenMap(),
            size=e.get("size").integer(minimum=0, bounds=INT64),
        )
        return None if container_path is None else ExternalVolume(container_path, info_e, mode)
    if c.has("secret"):
        secret = g("secret").string(required=True)
        if container_path is None or secret is None:
            return None
        return SecretVolume(container_path, secret)
    host_path = g("hostPath").string(required=True, min_length=1)
    if container_path is None or host_path is None:
        return None
    return HostVolume(container_path, host_path, mode)


def _read_linux_info(c: Cursor) -> LinuxInfo | None:
    if c.object() is None:
        return None
    seccomp = None
    if c.get("seccomp").object() is not None:
        s = c.get("seccomp")
        seccomp = Seccomp(
            profile_name=s.get("profileName").string(),
            unconfined=bool(s.get("unconfined").boolean()),
        )
    ipc = None
    if c.get("ipcInfo").object() is not None:
        i = c.get("ipcInfo")
        mode = i.get("mode").enum(IpcMode, required=True)
        shm = i.get("shmSize").integer(minimum=0)
        ipc = None if mode is None else IpcInfo(mode, shm)
    return LinuxInfo(seccomp=seccomp, ipc_info=ipc)
