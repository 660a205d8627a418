"""``AppDefinition`` -> JSON in Marathon 1.10's answer form.

The answer is canonical: no ``ports``, ``uris``, ``ipAddress``, ``docker.network`` or
``docker.portMappings``; ``networks`` and ``role`` always present; ``portDefinitions`` only
on host networking and ``container.portMappings`` only off it. Like 1.10 it omits empty
``args/constraints/dependencies/env/fetch/healthChecks/readinessChecks/secrets`` and unset
optionals.

Only keys the ``marathon`` PyPI client 0.13.0 accepts are emitted (it builds objects with
``Class(**json)``, so one unexpected key crashes it). Fields it rejects (``tty``,
``check``, ``executorResources``, ``resourceLimits``, ``container.linuxInfo``,
``portMappings[].networkNames``) appear only when the app sets them.

``parse_app(render_app(app)) == app`` for every parsed app (tested).
"""

from __future__ import annotations

import math
from typing import Any

from berth.marathon.models.app import (
    AppCheck,
    AppDefinition,
    Constraint,
    Container,
    EnvSecretRef,
    ExternalVolume,
    FetchUri,
    HealthCheck,
    HealthCheckProtocol,
    HostVolume,
    Network,
    PersistentVolume,
    PortDefinition,
    PortMapping,
    ReadinessCheck,
    ResourceLimits,
    UnreachableDisabled,
    Volume,
)
from berth.marathon.models.timestamps import format_timestamp

JSON = dict[str, Any]


def number(value: float) -> int | float:
    """Whole floats render as integers (``128``, not ``128.0``), as Marathon's answers do.

    >>> number(128.0), number(0.5)
    (128, 0.5)
    """
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def render_app(app: AppDefinition) -> JSON:
    """The app as ``GET /v2/apps/{id}`` shows it, without runtime counts or tasks.

    >>> from berth.marathon.models.pathid import PathId
    >>> render_app(AppDefinition(id=PathId.parse("/web"), cmd="serve"))["portDefinitions"]
    [{'port': 0, 'protocol': 'tcp', 'name': 'default'}]
    """
    out: JSON = {"id": str(app.id)}
    if app.cmd is not None:
        out["cmd"] = app.cmd
    if app.args:
        out["args"] = list(app.args)
    if app.user is not None:
        out["user"] = app.user
    if app.env:
        out["env"] = {
            k: {"secret": v.secret} if isinstance(v, EnvSecretRef) else v
            for k, v in app.env.items()
        }
    out.update(
        cpus=number(app.cpus),
        mem=number(app.mem),
        disk=number(app.disk),
        gpus=app.gpus,
        instances=app.instances,
        executor=app.executor,
        backoffSeconds=app.backoff_seconds,
        backoffFactor=number(app.backoff_factor),
        maxLaunchDelaySeconds=app.max_launch_delay_seconds,
    )
    if app.container is not None:
        out["container"] = render_container(app.container, host=app.is_host_networking)
    out["networks"] = [render_network(n) for n in app.networks]
    if app.is_host_networking:
        out["portDefinitions"] = [render_port_definition(p) for p in app.port_definitions]
    out["requirePorts"] = app.require_ports
    if app.health_checks:
        out["healthChecks"] = [render_health_check(h) for h in app.health_checks]
    if app.readiness_checks:
        out["readinessChecks"] = [render_readiness_check(r) for r in app.readiness_checks]
    if app.dependencies:
        out["dependencies"] = [str(d) for d in app.dependencies]
    if app.constraints:
        out["constraints"] = [render_constraint(c) for c in app.constraints]
    if app.fetch:
        out["fetch"] = [render_fetch(f) for f in app.fetch]
    if app.store_urls:
        out["storeUrls"] = list(app.store_urls)
    out["labels"] = dict(app.labels)
    if app.accepted_resource_roles is not None:
        out["acceptedResourceRoles"] = list(app.accepted_resource_roles)
    out["role"] = app.role
    out["upgradeStrategy"] = {
        "minimumHealthCapacity": number(app.upgrade_strategy.minimum_health_capacity),
        "maximumOverCapacity": number(app.upgrade_strategy.maximum_over_capacity),
    }
    unreachable = app.unreachable_strategy
    out["unreachableStrategy"] = (
        "disabled"
        if isinstance(unreachable, UnreachableDisabled)
        else {
            "inactiveAfterSeconds": unreachable.inactive_after_seconds,
            "expungeAfterSeconds": unreachable.expunge_after_seconds,
        }
    )
    out["killSelection"] = str(app.kill_selection)
    if app.task_kill_grace_period_seconds is not None:
        out["taskKillGracePeriodSeconds"] = app.task_kill_grace_period_seconds
    if app.residency is not None:
        out["residency"] = {
            "relaunchEscalationTimeoutSeconds": app.residency.relaunch_escalation_timeout_seconds,
            "taskLostBehavior": str(app.residency.task_lost_behavior),
        }
    if app.secrets:
        out["secrets"] = {k: {"source": s.source} for k, s in app.secrets.items()}
    # 1.10-only fields the Python client rejects: only when the app uses them.
    if app.tty is not None:
        out["tty"] = app.tty
    if app.check is not None:
        out["check"] = render_check(app.check)
    if app.executor_resources is not None:
        r = app.executor_resources
        out["executorResources"] = {
            "cpus": number(r.cpus),
            "mem": number(r.mem),
            "disk": number(r.disk),
        }
    if app.resource_limits is not None:
        out["resourceLimits"] = render_resource_limits(app.resource_limits)
    if app.version is not None:
        out["version"] = format_timestamp(app.version)
    if app.version_info is not None:
        out["versionInfo"] = {
            "lastScalingAt": format_timestamp(app.version_info.last_scaling_at),
            "lastConfigChangeAt": format_timestamp(app.version_info.last_config_change_at),
        }
    return out


def render_container(container: Container, *, host: bool) -> JSON:
    out: JSON = {"type": str(container.type)}
    if container.docker is not None:
        d = container.docker
        docker: JSON = {
            "image": d.image,
            "forcePullImage": d.force_pull_image,
            "privileged": d.privileged,
            "parameters": [{"key": p.key, "value": p.value} for p in d.parameters],
        }
        if d.pull_config is not None:
            docker["pullConfig"] = {"secret": d.pull_config.secret}
        out["docker"] = docker
    out["volumes"] = [render_volume(v) for v in container.volumes]
    if not host:
        out["portMappings"] = [render_port_mapping(m) for m in container.port_mappings]
    if container.linux_info is not None:
        info: JSON = {}
        if container.linux_info.seccomp is not None:
            s = container.linux_info.seccomp
            info["seccomp"] = {"unconfined": s.unconfined}
            if s.profile_name is not None:
                info["seccomp"]["profileName"] = s.profile_name
        if container.linux_info.ipc_info is not None:
            i = container.linux_info.ipc_info
            info["ipcInfo"] = {"mode": str(i.mode)}
            if i.shm_size is not None:
                info["ipcInfo"]["shmSize"] = i.shm_size
        out["linuxInfo"] = info
    return out


def render_volume(volume: Volume) -> JSON:
    if isinstance(volume, HostVolume):
        return {
            "containerPath": volume.container_path,
            "hostPath": volume.host_path,
            "mode": str(volume.mode),
        }
    if isinstance(volume, PersistentVolume):
        p = volume.persistent
        persistent: JSON = {"type": str(p.type), "size": p.size}
        if p.max_size is not None:
            persistent["maxSize"] = p.max_size
        if p.profile_name is not None:
            persistent["profileName"] = p.profile_name
        persistent["constraints"] = [list(c) for c in p.constraints]
        return {
            "containerPath": volume.container_path,
            "mode": str(volume.mode),
            "persistent": persistent,
        }
    if isinstance(volume, ExternalVolume):
        e = volume.external
        external: JSON = {}
        if e.name is not None:
            external["name"] = e.name
        if e.provider is not None:
            external["provider"] = e.provider
        external["options"] = dict(e.options)
        if e.size is not None:
            external["size"] = e.size
        return {
            "containerPath": volume.container_path,
            "external": external,
            "mode": str(volume.mode),
        }
    return {"containerPath": volume.container_path, "secret": volume.secret}


def render_port_definition(p: PortDefinition) -> JSON:
    out: JSON = {"port": p.port, "protocol": str(p.protocol)}
    if p.name is not None:
        out["name"] = p.name
    if p.labels:
        out["labels"] = dict(p.labels)
    return out


def render_port_mapping(m: PortMapping) -> JSON:
    out: JSON = {"containerPort": m.container_port}
    if m.host_port is not None:
        out["hostPort"] = m.host_port
    out["servicePort"] = m.service_port
    out["protocol"] = str(m.protocol)
    if m.name is not None:
        out["name"] = m.name
    out["labels"] = dict(m.labels)
    if m.network_names:
        out["networkNames"] = list(m.network_names)
    return out


def render_network(n: Network) -> JSON:
    out: JSON = {"mode": str(n.mode)}
    if n.name is not None:
        out["name"] = n.name
    if n.labels:
        out["labels"] = dict(n.labels)
    return out


def render_health_check(h: HealthCheck) -> JSON:
    out: JSON = {
        "gracePeriodSeconds": h.grace_period_seconds,
        "intervalSeconds": h.interval_seconds,
        "maxConsecutiveFailures": h.max_consecutive_failures,
        "timeoutSeconds": h.timeout_seconds,
        "delaySeconds": h.delay_seconds,
        "protocol": str(h.protocol),
    }
    if h.protocol is HealthCheckProtocol.COMMAND:
        if h.command is not None:
            out["command"] = {"value": h.command}
        return out
    if h.path is not None:
        out["path"] = h.path
    if h.port_index is not None:
        out["portIndex"] = h.port_index
    if h.port is not None:
        out["port"] = h.port
    if h.protocol in (HealthCheckProtocol.HTTP, HealthCheckProtocol.HTTPS):
        out["ignoreHttp1xx"] = h.ignore_http1xx
    out["ipProtocol"] = str(h.ip_protocol)
    return out


def render_readiness_check(r: ReadinessCheck) -> JSON:
    return {
        "name": r.name,
        "protocol": str(r.protocol),
        "path": r.path,
        "portName": r.port_name,
        "intervalSeconds": r.interval_seconds,
        "timeoutSeconds": r.timeout_seconds,
        "httpStatusCodesForReady": list(r.http_status_codes_for_ready),
        "preserveLastResponse": r.preserve_last_response,
    }


def render_constraint(c: Constraint) -> list[str]:
    return [c.field, c.operator] if c.value is None else [c.field, c.operator, c.value]


def render_fetch(f: FetchUri) -> JSON:
    out: JSON = {
        "uri": f.uri,
        "extract": f.extract,
        "executable": f.executable,
        "cache": f.cache,
    }
    if f.dest_path is not None:
        out["destPath"] = f.dest_path
    return out


def render_check(check: AppCheck) -> JSON:
    out: JSON = {}
    if check.http is not None:
        http: JSON = {}
        if check.http.port_index is not None:
            http["portIndex"] = check.http.port_index
        if check.http.port is not None:
            http["port"] = check.http.port
        if check.http.path is not None:
            http["path"] = check.http.path
        if check.http.scheme is not None:
            http["scheme"] = str(check.http.scheme)
        out["http"] = http
    if check.tcp is not None:
        tcp: JSON = {}
        if check.tcp.port_index is not None:
            tcp["portIndex"] = check.tcp.port_index
        if check.tcp.port is not None:
            tcp["port"] = check.tcp.port
        out["tcp"] = tcp
    if check.command is not None:
        command: JSON = {}
        if check.command.shell is not None:
            command["shell"] = check.command.shell
        if check.command.argv is not None:
            command["argv"] = list(check.command.argv)
        out["exec"] = {"command": command}
    out["intervalSeconds"] = check.interval_seconds
    out["timeoutSeconds"] = check.timeout_seconds
    out["delaySeconds"] = check.delay_seconds
    return out


def render_resource_limits(limits: ResourceLimits) -> JSON:
    out: JSON = {}
    for key, value in (("cpus", limits.cpus), ("mem", limits.mem)):
        if value is not None:
            out[key] = "unlimited" if math.isinf(value) else number(value)
    return out
