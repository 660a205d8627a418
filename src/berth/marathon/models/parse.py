"""App JSON -> ``AppDefinition``: read the shape, translate legacy forms, apply defaults.

Three stages, in Marathon's order, each reporting every problem it finds:

1. **Read** (``read_raw_app``): types, enums (case-insensitive), schema bounds. Problems are
   Play codes, raised together as ``InvalidJsonError`` (422 "Invalid JSON"). Unknown and
   read-only fields (``tasksRunning``, ``deployments``, ...) are ignored.
2. **Translate legacy forms** (``_translate_legacy``, reference 2.3): ``uris`` -> ``fetch``,
   ``ports`` -> ``portDefinitions``, ``ipAddress`` and ``container.docker.network`` ->
   ``networks``, ``container.docker.portMappings`` -> ``container.portMappings``.
   Conflicting old and new forms are ``MarathonValidationError``s.
3. **Apply defaults** (``_finish``): the canonical normalization that depends on the
   networking mode (default port, default mapping, bridge host ports, dropped port
   definitions), health-check port indices, residency and strategy defaults.

Semantic validation is separate (``validate.validate_app``); parsing only refuses what the
model cannot hold. Partial updates (``parse_app_update``) read the update with stage 1,
translate it with stage 2, lay its top-level fields over the existing app (no deep merge)
and run stage 3 on the result, as Marathon's ``AppUpdate`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime

from berth.marathon.models.app import (
    DEFAULT_PORT_DEFINITION,
    DEFAULT_PORT_MAPPING,
    DEFAULT_ROLE,
    HOST_NETWORK,
    MESOS_BRIDGE_NAME,
    RESIDENT_UPGRADE_STRATEGY,
    SINGLE_INSTANCE_LABEL,
    SINGLE_INSTANCE_UPGRADE_STRATEGY,
    UNREACHABLE_DISABLED,
    AppDefinition,
    Container,
    DockerSpec,
    EngineType,
    ExternalVolume,
    FetchUri,
    HealthCheckProtocol,
    Network,
    NetworkMode,
    PersistentVolume,
    PortDefinition,
    PortMapping,
    Residency,
    UnreachableEnabled,
    UpgradeStrategy,
)
from berth.marathon.models.errors import MarathonValidationError, Violation
from berth.marathon.models.frozenmap import FrozenMap
from berth.marathon.models.jsonread import Cursor, Reader
from berth.marathon.models.pathid import ROOT, PathId
from berth.marathon.models.rawapp import (
    DockerNetwork,
    RawApp,
    RawContainer,
    RawDocker,
    read_raw_app,
)

# uris with these endings are fetched with extract=true (Marathon's FetchUri.isExtract).
ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip")

VERSION_ONLY = "The 'version' field may only be combined with the 'id' field."

# Every top-level key of the App schema: in an update body with "version", any of these
# besides "id" makes it an invalid rollback request. Read-only AppInfo keys are not here.
APP_KEYS = frozenset(
    {
        "id", "cmd", "args", "user", "env", "instances", "cpus", "mem", "disk", "gpus",
        "executor", "constraints", "fetch", "uris", "storeUrls", "portDefinitions", "ports",
        "requirePorts", "backoffSeconds", "backoffFactor", "maxLaunchDelaySeconds",
        "container", "networks", "healthChecks", "readinessChecks", "dependencies",
        "upgradeStrategy", "labels", "acceptedResourceRoles", "role", "killSelection",
        "unreachableStrategy", "taskKillGracePeriodSeconds", "residency", "secrets", "tty",
        "check", "executorResources", "resourceLimits", "ipAddress", "version",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AppRollback:
    """An update body ``{"version": ts}`` (optionally with ``id``): roll back to ``version``."""

    id: PathId | None
    version: datetime


# -- stage 2: legacy forms ---------------------------------------------------------------


def _is_archive(uri: str) -> bool:
    return uri.lower().endswith(ARCHIVE_SUFFIXES)


def _translate_legacy(raw: RawApp, problems: list[Violation]) -> None:
    """Rewrite the legacy fields of ``raw`` into canonical ones, in place (reference 2.3)."""
    # uris -> fetch
    if raw.uris:
        if raw.fetch:
            problems.append(Violation("/uris", "may not be set in conjunction with fetch"))
        else:
            raw.fetch = tuple(FetchUri(uri=u, extract=_is_archive(u)) for u in raw.uris)
    raw.uris = None

    # ports -> portDefinitions (both given: only when they say the same thing)
    if raw.ports is not None:
        if raw.port_definitions is None:
            raw.port_definitions = tuple(PortDefinition(port=p) for p in raw.ports)
        elif tuple(p.port for p in raw.port_definitions) != raw.ports:
            problems.append(
                Violation(
                    "/",
                    "cannot specify both ports and port definitions: "
                    "remove the legacy 'ports' field and keep 'portDefinitions'",
                )
            )
        raw.ports = None

    ip = raw.ip_address
    docker = raw.container.docker if raw.container is not None else None
    docker_network = docker.network if docker is not None else None
    container_type = (raw.container.type or EngineType.DOCKER) if raw.container else None

    if ip is not None and raw.port_definitions:
        problems.append(Violation("/", "cannot specify both an IP address and port"))
    if ip is not None and raw.networks:
        problems.append(Violation("/", "must not specify both networks and ipAddress"))
    if docker_network is not None and raw.networks:
        problems.append(
            Violation("/", "must not specify both container.docker.network and networks")
        )
    if ip is not None and ip.discovery_ports and container_type is EngineType.DOCKER:
        problems.append(
            Violation("/ipAddress", "ipAddress/discovery is not allowed for Docker containers")
        )

    # ipAddress / container.docker.network -> networks
    if ip is not None or docker_network is not None:
        labels = ip.labels if ip is not None and ip.labels is not None else FrozenMap()
        if docker_network is DockerNetwork.NONE:
            problems.append(
                Violation(
                    "/container/docker/network",
                    "unsupported docker network type NONE: use 'networks' instead, e.g. "
                    '[{"mode": "container/bridge"}] or [{"mode": "host"}]',
                )
            )
        elif docker_network is DockerNetwork.HOST:
            raw.networks = (HOST_NETWORK,)
        elif docker_network is DockerNetwork.BRIDGE or (
            docker_network is None and ip is not None and ip.network_name == MESOS_BRIDGE_NAME
        ):
            raw.networks = (Network(mode=NetworkMode.BRIDGE, labels=labels),)
        else:  # USER, or an ipAddress alone
            name = ip.network_name if ip is not None else None
            raw.networks = (Network(mode=NetworkMode.CONTAINER, name=name, labels=labels),)

    # No container but an ipAddress: an empty MESOS container, as in Marathon.
    if raw.container is None and ip is not None:
        raw.container = RawContainer(type=EngineType.MESOS)
    container = raw.container
    if container is not None:
        if docker is not None:
            if docker.credential:
                problems.append(
                    Violation(
                        "/container/docker/credential",
                        "must be empty: docker credentials are no longer supported; use "
                        "container.docker.pullConfig with a secret (MESOS containers)",
                    )
                )
            if container.type is EngineType.MESOS and docker.network is not None:
                problems.append(
                    Violation(
                        "/container/docker/network",
                        "must be empty for MESOS containers: use 'networks' instead",
                    )
                )
            if docker.port_mappings is not None:
                if container.port_mappings is not None and docker.port_mappings:
                    problems.append(
                        Violation(
                            "/container",
                            "cannot specify both portMappings and docker.portMappings: "
                            "keep container.portMappings only",
                        )
                    )
                elif container.port_mappings is None:
                    container.port_mappings = docker.port_mappings
            docker.port_mappings = None
            docker.network = None
        if ip is not None and ip.discovery_ports and container.type is EngineType.MESOS:
            if container.port_mappings:
                problems.append(
                    Violation(
                        "/container/portMappings",
                        "container.portMappings and ipAddress.discovery.ports must not both be set",
                    )
                )
            else:
                container.port_mappings = ip.discovery_ports
    raw.ip_address = None


# -- stage 3: defaults -------------------------------------------------------------------


def _finish(
    raw: RawApp,
    app_id: PathId,
    *,
    base: PathId,
    default_role: str,
    default_network_name: str | None,
) -> AppDefinition:
    """Build the canonical app from translated ``raw`` (reference 2.3, steps 3-7)."""
    networks = raw.networks or (HOST_NETWORK,)
    if default_network_name is not None:
        networks = tuple(
            replace(n, name=default_network_name)
            if n.mode is NetworkMode.CONTAINER and n.name is None
            else n
            for n in networks
        )
    non_host = any(n.mode is not NetworkMode.HOST for n in networks)
    bridge = any(n.mode is NetworkMode.BRIDGE for n in networks)

    raw_container = raw.container
    if raw_container is None and non_host:
        # Non-host networking needs a container to carry the port mappings.
        raw_container = RawContainer(type=EngineType.MESOS)
    container = None
    if raw_container is not None:
        mappings: tuple[PortMapping, ...] = ()
        if non_host:
            given = raw_container.port_mappings
            mappings = (DEFAULT_PORT_MAPPING,) if given is None else given
            # More legacy ports than mappings: each extra port gets a default mapping.
            extra = len(raw.port_definitions or ()) - len(mappings)
            mappings += (PortMapping(),) * max(0, extra)
            if bridge:
                mappings = tuple(
                    replace(m, host_port=0) if m.host_port is None else m for m in mappings
                )
        rd = raw_container.docker
        docker = None
        if rd is not None and rd.image is not None:
            docker = DockerSpec(
                image=rd.image,
                force_pull_image=bool(rd.force_pull_image),
                privileged=bool(rd.privileged),
                parameters=rd.parameters or (),
                pull_config=rd.pull_config,
            )
        container = Container(
            type=raw_container.type or EngineType.DOCKER,
            docker=docker,
            volumes=raw_container.volumes or (),
            port_mappings=mappings,
            linux_info=raw_container.linux_info,
        )

    if non_host:
        port_definitions: tuple[PortDefinition, ...] = ()
    elif raw.port_definitions is None:
        port_definitions = (DEFAULT_PORT_DEFINITION,)
    else:
        port_definitions = raw.port_definitions

    has_ports = bool(port_definitions) or bool(container is not None and container.port_mappings)
    health_checks = tuple(
        replace(hc, port_index=0)
        if has_ports
        and hc.protocol is not HealthCheckProtocol.COMMAND
        and hc.port is None
        and hc.port_index is None
        else hc
        for hc in raw.health_checks or ()
    )

    volumes = container.volumes if container is not None else ()
    persistent = any(isinstance(v, PersistentVolume) for v in volumes)
    external = any(isinstance(v, ExternalVolume) for v in volumes)
    labels = raw.labels if raw.labels is not None else FrozenMap()
    upgrade = raw.upgrade_strategy
    if upgrade is None:
        if persistent or external:
            upgrade = RESIDENT_UPGRADE_STRATEGY
        elif labels.get(SINGLE_INSTANCE_LABEL) == "true":
            # Marathon keeps 1/1 here and then refuses it; 0/0 is the only valid choice.
            upgrade = SINGLE_INSTANCE_UPGRADE_STRATEGY
        else:
            upgrade = UpgradeStrategy()
    unreachable = raw.unreachable_strategy
    if unreachable is None:
        unreachable = UNREACHABLE_DISABLED if persistent else UnreachableEnabled()
    residency = raw.residency
    if residency is None and persistent:
        residency = Residency()

    dependencies: list[PathId] = []
    for text in raw.dependencies or ():
        dep = PathId.parse(text, base)
        if dep not in dependencies:
            dependencies.append(dep)

    d = AppDefinition(id=app_id)
    return AppDefinition(
        id=app_id,
        cmd=raw.cmd,
        args=raw.args or (),
        user=raw.user,
        env=raw.env if raw.env is not None else FrozenMap(),
        instances=d.instances if raw.instances is None else raw.instances,
        cpus=d.cpus if raw.cpus is None else raw.cpus,
        mem=d.mem if raw.mem is None else raw.mem,
        disk=d.disk if raw.disk is None else raw.disk,
        gpus=d.gpus if raw.gpus is None else raw.gpus,
        executor=d.executor if raw.executor is None else raw.executor,
        constraints=raw.constraints or (),
        fetch=raw.fetch or (),
        store_urls=raw.store_urls or (),
        port_definitions=port_definitions,
        require_ports=False if non_host else bool(raw.require_ports),
        backoff_seconds=d.backoff_seconds if raw.backoff_seconds is None else raw.backoff_seconds,
        backoff_factor=d.backoff_factor if raw.backoff_factor is None else raw.backoff_factor,
        max_launch_delay_seconds=(
            d.max_launch_delay_seconds
            if raw.max_launch_delay_seconds is None
            else raw.max_launch_delay_seconds
        ),
        container=container,
        networks=networks,
        health_checks=health_checks,
        readiness_checks=raw.readiness_checks or (),
        dependencies=tuple(dependencies),
        upgrade_strategy=upgrade,
        labels=labels,
        accepted_resource_roles=raw.accepted_resource_roles,
        role=default_role if raw.role is None else raw.role,
        kill_selection=raw.kill_selection or d.kill_selection,
        unreachable_strategy=unreachable,
        task_kill_grace_period_seconds=raw.task_kill_grace_period_seconds,
        residency=residency,
        secrets=raw.secrets if raw.secrets is not None else FrozenMap(),
        tty=raw.tty,
        check=raw.check,
        executor_resources=raw.executor_resources,
        resource_limits=raw.resource_limits,
        version=raw.version,
        version_info=raw.version_info,
    )


# -- public entry points -----------------------------------------------------------------


def parse_app(
    obj: object,
    *,
    base: PathId = ROOT,
    default_role: str = DEFAULT_ROLE,
    default_network_name: str | None = None,
) -> AppDefinition:
    """Parse and normalize one app body (``POST /v2/apps``), without semantic validation.

    ``base`` resolves a relative ``id`` and ``dependencies``. Raises ``InvalidJsonError``
    for shape problems, then ``MarathonValidationError`` for conflicting legacy forms.

    >>> app = parse_app({"id": "web", "cmd": "serve", "ports": [8080], "cpus": 0.5})
    >>> str(app.id), app.cpus, [p.port for p in app.port_definitions]
    ('/web', 0.5, [8080])
    >>> parse_app({"id": "web", "cpus": "1"})
    Traceback (most recent call last):
    ...
    berth.marathon.models.errors.InvalidJsonError: Invalid JSON: /cpus: error.expected.jsnumber
    """
    reader = Reader()
    raw = read_raw_app(Cursor(reader, "", obj), require_id=True)
    reader.raise_if_any()
    return build_app(raw, None, base, default_role, default_network_name)


def build_app(
    raw: RawApp,
    app_id: PathId | None,
    base: PathId,
    default_role: str,
    default_network_name: str | None,
    problems: list[Violation] | None = None,
) -> AppDefinition:
    """Stages 2 and 3 for ``raw`` read by ``read_raw_app``: legacy forms, then defaults.

    The id is ``app_id`` when given, else the body's resolved against ``base``. Raises
    ``MarathonValidationError`` (paths relative to the app) for conflicting legacy forms.
    """
    problems = [] if problems is None else problems
    _translate_legacy(raw, problems)
    if problems:
        raise MarathonValidationError(problems)
    resolved = app_id if app_id is not None else PathId.parse(raw.id or "", base)
    return _finish(
        raw,
        resolved,
        base=base,
        default_role=default_role,
        default_network_name=default_network_name,
    )


def parse_app_update(
    obj: object,
    existing: AppDefinition | None,
    *,
    partial: bool,
    app_id: PathId | None = None,
    base: PathId = ROOT,
    default_role: str = DEFAULT_ROLE,
    default_network_name: str | None = None,
) -> AppDefinition | AppRollback:
    """Parse a ``PUT``/``PATCH /v2/apps/{id}`` body against the stored app.

    * ``{"version": ts}`` (optionally with ``id``) is a rollback request: an ``AppRollback``
      is returned; ``version`` with any other app field is a 422 (reference 1).
    * ``partial`` with an ``existing`` app: the body's top-level fields replace the app's
      (``env``, ``labels``, ``container``... are replaced whole, not merged).
    * Otherwise (``partialUpdate=false``, or no app yet) the body is a full definition:
      omitted fields take their defaults.

    The id is ``app_id`` (the URL's) when given, else the existing app's, else the body's.
    The result carries the existing app's ``version``/``version_info`` (None when new): the
    caller stamps the new version once it knows what kind of change this is.

    >>> old = parse_app({"id": "/web", "cmd": "serve", "instances": 1, "env": {"A": "1"}})
    >>> new = parse_app_update({"instances": 3}, old, partial=True)
    >>> new.instances, dict(new.env), new.cmd
    (3, {'A': '1'}, 'serve')
    """
    reader = Reader()
    cursor = Cursor(reader, "", obj)
    need_id = app_id is None and existing is None
    raw = read_raw_app(cursor, require_id=need_id)
    if raw.version is not None and isinstance(obj, dict):
        others = [k for k, v in obj.items() if k in APP_KEYS - {"id", "version"} and v is not None]
        if others or reader.play_errors:
            if others:
                reader.violation("/", VERSION_ONLY)
            reader.raise_if_any()
        body_id = PathId.parse(raw.id, base) if raw.id is not None else None
        rollback_id = app_id or (existing.id if existing is not None else None) or body_id
        return AppRollback(id=rollback_id, version=raw.version)
    reader.raise_if_any()

    resolved = app_id or (existing.id if existing is not None else None)
    problems: list[Violation] = []
    if partial and existing is not None:
        _translate_legacy(raw, problems)
        _check_update_ports(raw, problems)
        if problems:
            raise MarathonValidationError(problems)
        merged = _overlay(_raw_of(existing), raw)
    else:
        merged = raw
    app = build_app(merged, resolved, base, default_role, default_network_name, problems)
    return replace(
        app,
        version=existing.version if existing is not None else None,
        version_info=existing.version_info if existing is not None else None,
    )


def _check_update_ports(update: RawApp, problems: list[Violation]) -> None:
    # Marathon checks these on updates only: a full definition silently drops the ports
    # its networking cannot use, but an update that states both is contradicting itself.
    nets = update.networks or ()
    mappings = update.container.port_mappings if update.container is not None else None
    if any(n.mode is NetworkMode.HOST for n in nets) and mappings:
        problems.append(Violation("/", "portMappings are not allowed with host-networking"))
    if any(n.mode is not NetworkMode.HOST for n in nets) and update.port_definitions:
        problems.append(Violation("/", "portDefinitions are only allowed with host-networking"))


def _raw_of(app: AppDefinition) -> RawApp:
    """The stored app as a raw record in canonical form, as if its rendering were read.

    Built field by field rather than through JSON, so an app made in code (which the JSON
    reader's schema bounds never saw) can always be updated.
    """
    host = app.is_host_networking
    container = None
    if app.container is not None:
        c, d = app.container, app.container.docker
        container = RawContainer(
            type=c.type,
            docker=None
            if d is None
            else RawDocker(
                image=d.image,
                force_pull_image=d.force_pull_image,
                privileged=d.privileged,
                parameters=d.parameters,
                pull_config=d.pull_config,
            ),
            volumes=c.volumes,
            port_mappings=None if host else c.port_mappings,
            linux_info=c.linux_info,
        )
    return RawApp(
        id=str(app.id),
        cmd=app.cmd,
        args=app.args,
        user=app.user,
        env=app.env,
        instances=app.instances,
        cpus=app.cpus,
        mem=app.mem,
        disk=app.disk,
        gpus=app.gpus,
        executor=app.executor,
        constraints=app.constraints,
        fetch=app.fetch,
        store_urls=app.store_urls,
        port_definitions=app.port_definitions if host else None,
        require_ports=app.require_ports,
        backoff_seconds=app.backoff_seconds,
        backoff_factor=app.backoff_factor,
        max_launch_delay_seconds=app.max_launch_delay_seconds,
        container=container,
        networks=app.networks,
        health_checks=app.health_checks,
        readiness_checks=app.readiness_checks,
        dependencies=tuple(str(d) for d in app.dependencies),
        upgrade_strategy=app.upgrade_strategy,
        labels=app.labels,
        accepted_resource_roles=app.accepted_resource_roles,
        role=app.role,
        kill_selection=app.kill_selection,
        unreachable_strategy=app.unreachable_strategy,
        task_kill_grace_period_seconds=app.task_kill_grace_period_seconds,
        residency=app.residency,
        secrets=app.secrets,
        tty=app.tty,
        check=app.check,
        executor_resources=app.executor_resources,
        resource_limits=app.resource_limits,
    )


def _overlay(existing: RawApp, update: RawApp) -> RawApp:
    merged = RawApp()
    for f in fields(RawApp):
        new = getattr(update, f.name)
        setattr(merged, f.name, new if new is not None else getattr(existing, f.name))
    # Moving to non-host networking without restating ports: the old host ports do not
    # carry over (they would otherwise turn into extra port mappings).
    if (
        update.networks is not None
        and update.port_definitions is None
        and any(n.mode is not NetworkMode.HOST for n in update.networks)
    ):
        merged.port_definitions = None
    merged.version = None
    merged.version_info = None
    return merged
