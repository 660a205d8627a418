"""Semantic validation of a parsed app (reference 2.1-2.3, 3.5, 3.6).

``validate_app`` runs every rule and returns every violation, each with its JSON path
(Play notation, ``/`` for whole-object rules) and a message that says what to fix. Where
Marathon's message is quoted in the reference (and so may be matched by clients), it is
used verbatim; elsewhere messages follow Marathon's wording ("got X, expected Y or more")
with the fix spelled out.

Rules run on the canonical model, so they also hold for apps built in code (a scaled or
merged definition), not only for request bodies; bounds the JSON reader already enforced
(with Play's ``error.min`` and friends) are checked again here for that reason.

>>> from berth.marathon.models.parse import parse_app
>>> [v.path for v in validate_app(parse_app({"id": "/web", "cmd": "x y", "args": ["z"]}))]
['/']
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass

from berth.marathon.models.app import (
    AppDefinition,
    EngineType,
    EnvSecretRef,
    ExternalVolume,
    HealthCheckProtocol,
    HostVolume,
    IpProtocol,
    NetworkMode,
    PersistentVolume,
    PersistentVolumeType,
    SecretVolume,
    UnreachableDisabled,
    VolumeMode,
)
from berth.marathon.models.errors import MarathonValidationError, Violation
from berth.marathon.models.pathid import id_problems
from berth.marathon.models.rawapp import EXECUTOR

FEATURE_GPU = "gpu_resources"
FEATURE_SECRETS = "secrets"
FEATURE_EXTERNAL_VOLUMES = "external_volumes"

CMD_ARGS_CONTAINER = (
    "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."
)
PORT_INDEX = (
    "Health check port indices must address an element of the ports array or container "
    "port mappings."
)
UNKNOWN_OPERATOR = (
    "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS"
)
PORT_DEFINITIONS_HOST_ONLY = "portDefinitions are only allowed with host-networking"
IS_VALUE = re.compile(r"[a-zA-Z0-9_/.-]*")
INTEGER = re.compile(r"[+-]?[0-9]+")
MESOS_PROTOCOLS = frozenset(
    {
        HealthCheckProtocol.MESOS_HTTP,
        HealthCheckProtocol.MESOS_HTTPS,
        HealthCheckProtocol.MESOS_TCP,
    }
)


@dataclass(frozen=True, slots=True)
class _Context:
    features: frozenset[str]
    valid_roles: frozenset[str] | None


def feature_disabled(feature: str) -> str:
    return f"Feature {feature} is not enabled. Enable with --enable_features {feature}"


def validate_app(
    app: AppDefinition,
    *,
    features: Collection[str] = (),
    valid_roles: Collection[str] | None = None,
) -> list[Violation]:
    """Every rule ``app`` breaks, in a stable order (empty when it is valid).

    ``features`` are Marathon's ``--enable_features`` (``gpu_resources``, ``secrets``,
    ``external_volumes``); ``valid_roles``, when given, are the roles the app may use.
    """
    ctx = _Context(frozenset(features), None if valid_roles is None else frozenset(valid_roles))
    out: list[Violation] = []
    for rule in _RULES:
        rule(app, ctx, out)
    return out


def ensure_valid_app(
    app: AppDefinition,
    *,
    features: Collection[str] = (),
    valid_roles: Collection[str] | None = None,
) -> AppDefinition:
    """``app`` itself, or ``MarathonValidationError`` with every violation."""
    violations = validate_app(app, features=features, valid_roles=valid_roles)
    if violations:
        raise MarathonValidationError(violations)
    return app


def _fmt(value: float) -> str:
    # Marathon prints doubles with a decimal point and integers without.
    return repr(float(value)) if isinstance(value, float) else str(value)


Rule = Callable[[AppDefinition, _Context, list[Violation]], None]


def _rule_id(app: AppDefinition, ctx: _Context, out: list[Violation]) -> None:
    out.extend(Violation("/id", p) for p in id_problems(app.id))


def _rule_command(app: AppDefinition, ctx: _Context, out: list[Violation]) -> None:
    has_cmd, has_args = app.cmd is not None, bool(app.args)
    # A container counts when it names an image to run (its entrypoint). A DOCKER
    # container missing its image is reported at /container/docker/image instead:
    # telling the user to add a container they did give would mislead.
    runnable = app.container is not None and (
        app.container.docker is not None or app.container.type is EngineType.DOCKER
    )
    if not ((has_cmd != has_args) or (not (has_cmd and has_args) and runnable)):
        out.append(Violation("/", CMD_ARGS_CONTAINER))
    if app.cmd is not None and len(app.cmd) <= 1:
        out.append(
            Violation(
                "/cmd",
                f"must not be an empty string: got {app.cmd!r}, expected a command of at least "
                "2 characters",
            )
        )


def _at_least(out: list[Violation], path: str, value: float, minimum: float) -> None:
    if value < minimum:
        out.append(Violation(path, f"got {_fmt(value)}, expected {_fmt(minimum)} or more"))


def _rule_resources(app: AppDefinition, ctx: _Context, out: list[Violation]) -> None:
    _at_least(out, "/cpus", app.cpus, 0.001)
    _at_least(out, "/mem", app.mem, 0.0)
    _at_least(out, "/disk", app.disk, 0.0)
    _at_least(out, "/gpus", app.gpus, 0)
    _at_least(out, "/instances", app.instances, 0)
    _at_least(out, "/backoffSeconds", app.backoff_seconds, 0)
    _at_least(out, "/backoffFactor", app.backoff_factor, 1.0)
    _at_least(out, "/maxLaunchDelaySeconds", app.max_launch_delay_seconds, 0)
    if app.task_kill_grace_period_seconds is not None:
        _at_least(out, "/taskKillGracePeriodSeconds", app.task_kill_grace_period_seconds, 0)
    if app.gpus > 0:
        if app.container is not None and app.container.type is EngineType.DOCKER:
            out.append(
                Violation(
                    "/gpus",
                    "GPU resources only work with the Mesos containerizer: "
                    "use container type MESOS",
                )
            )
        if FEATURE_GPU not in ctx.features:
            out.append(Violation("/gpus", feature_disabled(FEATURE_GPU)))
    if not EXECUTOR.fullmatch(app.executor):
        out.append(Violation("/executor", f"got {app.executor!r}, expected '', '//cmd' or a path"))
    limits = app.resource_limits
    if limits is not None:
        for key, limit, requested in (
            ("cpus", limits.cpus, app.cpus),
            ("mem", limits.mem, app.mem),
        ):
            if limit is not None and limit < requested:
                out.append(
                    Violation(
                        f"/resourceLimits/{key}",
                        f"got {_fmt(limit)}, expected {_fmt(requested)} or more "
                        f"(a limit may not be below the requested {key})",
                    )
                )


def _rule_container(app: AppDefinition, ctx: _Context, out: list[Violation]) -> None:
    c = app.container
    if c is None:
        return
    d = c.docker
    # DOCKER needs an image; MESOS runs one only when it has a docker section.
    if (c.type is EngineType.DOCKER or d is not None) and (d is None or not d.image):
        out.append(
            Violation(
                "/container/docker/image",
                f"must not be empty: a {c.type} container needs container.docker.image "
                '(e.g. "python:3")',
            )
        )
    if d is not None and c.type is EngineType.MESOS:
        if d.parameters:
            out.append(
                Violation(
                    "/container/docker/parameters",
                    "must be empty for MESOS containers: docker parameters are passed to "
                    "the Docker engine only (use container type DOCKER)",
                )
            )
        if d.privileged:
            out.append(
                Violation(
                    "/container/docker/privileged",
                    "privileged mode needs container type DOCKER",
                )
            )
    if d is not None and d.pull_config is not None:
        if c.type is not EngineType.MESOS:
            out.append(
                Violation(
                    "/container/docker/pullConfig",
                    "pullConfig is only supported with container type MESOS",
                )
            )
        _secret_ref(app, ctx, out, "/container/docker/pullConfig/secret", d.pull_config.secret)

    external_names = [
        v.external.name
        for v in c.volumes
        if isinstance(v, ExternalVolume) and v.external.name is not None
    ]
    if len(set(external_names)) != len(external_names):
        out.append(Violation("/container/volumes", "Volume names must be unique"))
    for i, v in enumerate(c.volumes):
        p = f"/container/volumes({i})"
        if not v.container_path:
            out.append(Violation(f"{p}/containerPath", "must not be empty"))
        if isinstance(v, HostVolume):
            if not v.host_path:
                out.append(Violation(f"{p}/hostPath", "must not be empty"))
        elif isinstance(v, PersistentVolume):
            _persistent_volume(p, v, out)
        elif isinstance(v, ExternalVolume):
            for key, value in (("name", v.external.name), ("provider", v.external.provider)):
                if not value:
                    out.append(Violation(f"{p}/external/{key}", "must be defined"))
            if FEATURE_EXTERNAL_VOLUMES not in ctx.features:
                out.append(Violation(p, feature_disabled(FEATURE_EXTERNAL_VOLUMES)))
        elif isinstance(v, SecretVolume):
            _secret_ref(app, ctx, out, f"{p}/secret", v.secret)


def _persistent_volume(p: str, v: PersistentVolume, out: list[Violation]) -> None:
    if "/" in v.container_path:
        out.append(
            Violation(
                f"{p}/containerPath",
                'value must not contain "/": persistent volumes are mounted in the sandbox '
                'by a relative name (e.g. "data")',
            )
        )
    if v.container_path in (".", ".."):
        out.append(Violation(f"{p}/containerPath", "must not be '.' or '..'"))
    if v.mode is not VolumeMode.RW:
        out.append(Violation(f"{p}/mode", f"got {v.mode}, expected RW"))
    info = v.persistent
    if info.size <= 0:
        out.append(Violation(f"{p}/persistent/size", f"got {info.size}, expected more than 0"))
    if info.max_size is not None:
        if info.type is not PersistentVolumeType.MOUNT:
            out.append(Violation(f"{p}/persistent", "Only mount volumes can have maxSize"))
        if info.max_size <= info.size:
            out.append(Violation(f"{p}/persistent", "Max size must be larger than size"))
    if info.constraints and info.type is PersistentVolumeType.ROOT:
        out.append(Violation(f"{p}/persistent", "Constraints on root volumes are not supported"))
    for j, constraint in enumerate(info.constraints):
        cp = f"{p}/persistent/constraints({j})"
        if len(constraint) != 3 or constraint[0] != "path":
            out.append(
                Violation(
                    cp,
                    f"Unsupported constraint {','.join(constraint)}: "
                    'use ["path", "LIKE" or "UNLIKE", regex]',
                )
            )
        elif constraint[1] not in ("LIKE", "UNLIKE"):
            out.append(Violation(cp, "Operator must be one of LIKE, UNLIKE"))
        elif not _is_regex(constraint[2]):
            out.append(Violation(cp, f"'{constraint[2]}' is not a valid regular expression"))


def _secret_ref(
    app: AppDefinition, ctx: _Context, out: list[Violation], path: str, name: str
) -> None:
    if FEATURE_SECRETS not in ctx.features:
        out.append(Violation(path, feature_disabled(FEATURE_SECRETS)))
    if name not in app.secrets:
        out.append(
            Violation(path, f"references an undefined secret named '{name}'; declare it in secrets")
        )


def _rule_networks(app: AppDefinition, ctx: _Context, out: list[Violation]) -> None:
    nets = app.networks
    if not nets:
        out.append(
            Violation("/networks", 'must not be empty: use [{"mode": "host"}] for host networking')
        )
        return
    if any(n.mode is NetworkMode.HOST and (n.name or n.labels) for n in nets):
        out.append(Violation("/networks", "Host networks may not have names or labels"))
    if any(n.mode is NetworkMode.BRIDGE and n.name for n in nets):
        out.append(Violation("/networks", "Bridge networks may not have names"))
    unnamed = sum(1 for n in nets if n.mode is NetworkMode.CONTAINER and n.name is None)
    names = Counter(n.name for n in nets if n.name is not None)
    if unnamed > 1 or any(count > 1 for count in names.values()):
        out.append(Violation("/networks", "Duplicate networks are not allowed"))
    modes = Counter(n.mode for n in nets)
    host, bridge, container = (
        modes[NetworkMode.HOST],
        modes[NetworkMode.BRIDGE],
        modes[NetworkMode.CONTAINER],
    )
    if not (
        (host <= 1 and bridge == 0 and container == 0)
        or (host == 0 and bridge <= 1 and container == 0)
        or (host == 0 and bridge == 0 and container > 0)
    ):
        out.append(
            Violation(
                "/networks",
                "May specify a single host network, single bridge network, or else 1-to-n "
                "container networks",
            )
        )
    for i, n in enumerate(nets):
        if n.mode is NetworkMode.CONTAINER and n.name is None:
            out.append(
                Violation(
                    f"/networks({i})/name",
                    "container networks need a name (no default network name is configured)",
                )
            )
    docker = app.container is not None and app.container.type is EngineType.DOCKER
    if docker and container > 1:
        out.append(
            Violation(
                "/networks",
                "may only specify a single container network when using the Docker container "
                "engine",
            )
        )


def _rule_ports(app: AppDefinition, ctx: _Context, out: list[Violation]) -> None:
    host = app.is_host_networking
    pds = app.port_definitions
    if pds and not host:
        out.append(Violation("/portDefinitions", PORT_DEFINITIONS_HOST_ONLY))
    if _has_duplicates(p.name for p in pds if p.name is not None):
        out.append(Violation("/portDefinitions", "Port names must be unique."))
    if _has_duplicates(p.port for p in pds if p.port != 0):
        out.append(Violation("/portDefinitions", "Ports must be unique."))
    if app.require_ports and not host:
        out.append(
            Violation("/requirePorts", "requirePorts applies to host networking only; remove it")
        )
    mappings = app.port_mappings
    if mappings and host:
        out.append(
            Violation(
                "/container/portMappings", "portMappings are not allowed with host-networking"
            )
        )
    if _has_duplicates(m.name for m in mappings if m.name is not None):
        out.append(Violation("/container/portMappings", "Port names must be unique."))
    container_nets = [n for n in app.networks if n.mode is NetworkMode.CONTAINER]
    known = {n.name for n in app.networks if n.name is not None}
    for i, m in enumerate(mappings):
        p = f"/container/portMappings({i})/networkNames"
        if len(container_nets) > 1 and m.host_port is not None and len(m.network_names) != 1:
            out.append(
                Violation(
                    p,
                    "must name exactly one network when hostPort is set and the app joins "
                    "more than one container network",
                )
            )
        for name in m.network_names:
            if name not in known:
                out.append(Violation(p, f"'{name}' is not one of the app's networks"))


def _has_duplicates(items: Iterable[Hashable]) -> bool:
    seen = list(items)
    return len(set(seen)) != len(seen)


def _rule_health_checks(app: AppDefinition, ctx: _Context, out: list[Violation]) -> None:
    n_ports = len(app.port_names)
    docker = app.container is not None and app.container.type is EngineType.DOCKER
    for i, hc in enumerate(app.health_checks):
        p = f"/healthChecks({i})"
        if hc.protocol is HealthCheckProtocol.COMMAND:
            if not hc.command:
                out.append(
                    Violation(
                        f"{p}/command",
                        "COMMAND health checks need a command, e.g. "
                        '{"value": "curl -f http://localhost:$PORT0/"}',
                    )
                )
        elif hc.port_index is not None:
            if not 0 <= hc.port_index < n_ports:
                out.append(Violation(p, PORT_INDEX))
        elif hc.port is None and n_ports != 1:
            # Without portIndex or port, Marathon falls back to the one and only port.
            out.append(Violation(p, PORT_INDEX))
        if hc.ip_protocol is IpProtocol.IPV6 and not (hc.protocol in MESOS_PROTOCOLS and docker):
            out.append(
                Violation(
                    f"{p}/ipProtocol",
                    "IPv6 is only supported by MESOS_HTTP, MESOS_HTTPS and MESOS_TCP checks "
                    "of DOCKER containers; use IPv4",
                )
            )
    if sum(1 for hc in app.health_checks if hc.protocol in MESOS_PROTOCOLS) > 1:
        out.append(Violation("/", "AppDefinition can contain at most one Mesos health check"))


def _rule_readiness_checks(app: AppDefinition, ctx: _Context, out: list[Violation]) -> None:
    checks = app.readiness_checks
    if len(checks) > 1:
        out.append(
            Violation(
                "/readinessChecks",
                f"got {len(checks)}, expected 1 or less: an app may have one readiness check",
            )
        )
    names = {n for n in app.port_names if n is not None}
    for i, rc in enumerate(checks):
        p = f"/readinessChecks({i})"
        if rc.port_name not in names:
            out.append(
                Violation(
                    f"{p}/portName",
                    f"No port definition reference for portName {rc.port_name}: name one of "
                    "the app's ports (portDefinitions or container.portMappings)",
                )
            )
        if rc.timeout_seconds >= rc.interval_seconds:
            out.append(
                Violation(
                    f"{p}/timeoutSeconds",
                    f"got {rc.timeout_seconds}, expected less than {rc.interval_seconds} "
                    "(intervalSeconds)",
                )
            )
        if not rc.http_status_codes_for_ready:
            out.append(Violation(f"{p}/httpStatusCodesForReady", "must not be empty"))


def _is_regex(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError):
        # Huge repeat counts and deep nesting fail with errors other than re.error.
        return False
    return True


def _is_int(text: str) -> bool:
    # Length first: int() refuses (ValueError) strings of thousands of digits.
    return len(text) <= 11 and bool(INTEGER.fullmatch(text)) and -(2**31) <= int(text) < 2**31


def constraint_problem(field: str, operator: str, value: str | None) -> str | None:
    """Why ``[field, operator, value]`` is not a valid app constraint, or None.

    >>> constraint_problem("hostname", "UNIQUE", None) is None
    True
    >>> constraint_problem("rack", "MAX_PER", "two")
    'Value was not specified or is not a number: MAX_PER must have an integer value'
    """
    if not field:
        return "Missing field and operator"
    if operator == "UNIQUE":
        if value is not None:
            return "Value specified but not used: UNIQUE takes no value; remove it"
    elif operator == "CLUSTER":
        pass  # value optional: without one, all instances follow the first
    elif operator == "GROUP_BY":
        if value is not None and not _is_int(value):
            return (
                "Value was specified but is not a number: GROUP_BY may either have no value "
                "or an integer value"
            )
    elif operator in ("LIKE", "UNLIKE"):
        if value is None:
            return f"A regular expression value must be provided: [field, {operator}, regex]"
        if not _is_regex(value):
            return f"'{value}' is not a valid regular expression"
    elif operator == "MAX_PER":
        if value is None or not _is_int(value):
            return "Value was not specified or is not a number: MAX_PER must have an integer value"
    elif operator == "IS":
        if value is None:
            return "A value must be provided: [field, IS, value]"
        if not IS_VALUE.fullmatch(value):
            return f"'{value}' is not a valid IS value: it must match [a-zA-Z0-9_/.-]*"
    else:
        return UNKNOWN_OPERATOR
    return None


def _rule_constraints(app: AppDefinition, ctx: _Context, out: list[Violation]) -> None:
    for i, c in enumerate(app.constraints):
        problem = constraint_problem(c.field, c.operator, c.value)
        if problem is not None:
            out.append(Violation(f"/constraints({i})", problem))


def _rule_strategies(app: AppDefinition, ctx: _Context, out: list[Violation]) -> None:
    u = app.upgrade_strategy
    for key, value in (
        ("minimumHealthCapacity", u.minimum_health_capacity),
        ("maximumOverCapacity", u.maximum_over_capacity),
    ):
        if not 0.0 <= value <= 1.0:
            out.append(
                Violation(
                    f"/upgradeStrategy/{key}", f"got {_fmt(value)}, expected between 0.0 and 1.0"
                )
            )
    if app.is_single_instance:
        if app.instances > 1:
            out.append(
                Violation(
                    "/instances",
                    "Single instance app may only have one instance "
                    "(label MARATHON_SINGLE_INSTANCE_APP=true)",
                )
            )
        for key, value in (
            ("minimumHealthCapacity", u.minimum_health_capacity),
            ("maximumOverCapacity", u.maximum_over_capacity),
        ):
            if value != 0.0:
                out.append(
                    Violation(
                        f"/upgradeStrategy/{key}",
                        f"got {_fmt(value)}, expected 0.0: a single-instance app "
                        "(MARATHON_SINGLE_INSTANCE_APP=true) may never run two instances",
                    )
                )
    if (app.is_resident or app.has_external_volumes) and u.maximum_over_capacity != 0.0:
        out.append(
            Violation(
                "/upgradeStrategy/maximumOverCapacity",
                f"got {_fmt(u.maximum_over_capacity)}, expected 0.0: apps with persistent or "
                "external volumes cannot run extra instances during an upgrade",
            )
        )
    un = app.unreachable_strategy
    if isinstance(un, UnreachableDisabled):
        pass
    else:
        _at_least(out, "/unreachableStrategy/inactiveAfterSeconds", un.inactive_after_seconds, 0)
        _at_least(out, "/unreachableStrategy/expungeAfterSeconds", un.expunge_after_seconds, 0)
        if un.inactive_after_seconds > un.expunge_after_seconds:
            out.append(
                Violation(
                    "/unreachableStrategy/inactiveAfterSeconds",
                    f"got {un.inactive_after_seconds}, expected at most expungeAfterSeconds "
                    f"({un.expunge_after_seconds})",
                )
            )
        if app.residency is not None:
            out.append(
                Violation(
                    "/unreachableStrategy",
                    'unreachableStrategy must be disabled for resident tasks: use "disabled"',
                )
            )
    if (app.residency is not None) != app.has_persistent_volumes:
        out.append(
            Violation(
                "/",
                "App must contain persistent volumes and define residency: remove residency "
                "or add a persistent volume",
            )
        )


def _rule_roles(app: AppDefinition, ctx: _Context, out: list[Violation]) -> None:
    if not app.role:
        out.append(Violation("/role", "must not be empty"))
    elif ctx.valid_roles is not None and app.role not in ctx.valid_roles:
        out.append(
            Violation(
                "/role",
                f"Role '{app.role}' is not valid. Valid roles are: "
                + ", ".join(sorted(ctx.valid_roles)),
            )
        )
    roles = app.accepted_resource_roles
    if roles is None:
        return
    if not roles:
        out.append(
            Violation(
                "/acceptedResourceRoles",
                "must not be empty: omit acceptedResourceRoles to accept offers of any role",
            )
        )
    bad = [r for r in roles if r not in ("*", app.role)]
    if bad:
        out.append(
            Violation(
                "/acceptedResourceRoles",
                f"acceptedResourceRoles can only contain * and {app.role} (got "
                + ", ".join(bad)
                + ")",
            )
        )
    if len(set(roles)) != len(roles):
        out.append(Violation("/acceptedResourceRoles", "must not contain duplicates"))


def _rule_env_and_secrets(app: AppDefinition, ctx: _Context, out: list[Violation]) -> None:
    for name, value in app.env.items():
        p = f"/env/{name}"
        if not name:
            out.append(Violation(p, "variable name must not be empty"))
        elif len(name) >= 255:
            out.append(Violation(p, "variable name must be 254 chars or less"))
        if isinstance(value, EnvSecretRef) and value.secret not in app.secrets:
            out.append(
                Violation(
                    p,
                    f"references an undefined secret named '{value.secret}'; declare it in secrets",
                )
            )
    uses_refs = any(isinstance(v, EnvSecretRef) for v in app.env.values())
    if uses_refs and FEATURE_SECRETS not in ctx.features:
        out.append(
            Violation(
                "/env",
                "use of secret-references in the environment requires the secrets feature to be "
                "enabled",
            )
        )
    if app.secrets and FEATURE_SECRETS not in ctx.features:
        out.append(Violation("/secrets", feature_disabled(FEATURE_SECRETS)))
    for name, secret in app.secrets.items():
        if not secret.source:
            out.append(Violation(f"/secrets/{name}/source", "must not be empty"))


def _rule_fetch_and_dependencies(app: AppDefinition, ctx: _Context, out: list[Violation]) -> None:
    for i, f in enumerate(app.fetch):
        if not f.uri:
            out.append(Violation(f"/fetch({i})/uri", "must not be empty"))
    for i, dep in enumerate(app.dependencies):
        p = f"/dependencies({i})"
        out.extend(Violation(p, problem) for problem in id_problems(dep) if not dep.is_root)
        if dep.is_root or dep == app.id or app.id.is_under(dep):
            out.append(
                Violation(
                    p,
                    f"'{dep}' contains or is the app itself; an app cannot depend on itself",
                )
            )


def _rule_check(app: AppDefinition, ctx: _Context, out: list[Violation]) -> None:
    check = app.check
    if check is None:
        return
    kinds = [k for k in (check.http, check.tcp, check.command) if k is not None]
    if len(kinds) != 1:
        out.append(Violation("/check", "must specify exactly one of http, tcp or exec"))
    n_ports = len(app.port_names)
    for key, spec in (("http", check.http), ("tcp", check.tcp)):
        if spec is not None and spec.port_index is not None and not 0 <= spec.port_index < n_ports:
            out.append(
                Violation(
                    f"/check/{key}/portIndex",
                    "must address an element of the ports array or container port mappings",
                )
            )
    if check.command is not None and (check.command.shell is None) == (check.command.argv is None):
        out.append(Violation("/check/exec/command", "must specify exactly one of shell or argv"))


_RULES: tuple[Rule, ...] = (
    _rule_id,
    _rule_command,
    _rule_resources,
    _rule_container,
    _rule_networks,
    _rule_ports,
    _rule_health_checks,
    _rule_readiness_checks,
    _rule_constraints,
    _rule_strategies,
    _rule_roles,
    _rule_env_and_secrets,
    _rule_fetch_and_dependencies,
    _rule_check,
)
