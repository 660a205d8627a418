"""From an app definition and a placement to the Mesos TaskInfo that launches it (pure).

What a task gets (reference marathon.md sections 2.2, 3.5, 3.8):

- command: ``cmd`` through the shell, ``args`` as an argv (appended to the image's
  entrypoint under Docker), or nothing (the image's own command);
- container: Docker image, network (BRIDGE for ``container/bridge``, USER for named
  container networks, HOST otherwise), port mappings onto the placed host ports,
  volumes, parameters;
- environment: ``PORT0..n``, ``PORT``, ``PORTS``, ``PORT_<NAME>``, ``HOST``,
  ``MARATHON_APP_*``, then the app's own ``env`` (which wins);
- the first health check Mesos can run, with its port resolved; Marathon's
  ``maxConsecutiveFailures: 0`` ("never kill") becomes a count no task reaches;
- the kill grace period.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from berth.core.jsonutil import JSON, id_of
from berth.core.resources import Resources
from berth.marathon.models.app import (
    AppDefinition,
    EnvSecretRef,
    HealthCheck,
    HealthCheckProtocol,
    HostVolume,
    NetworkMode,
)
from berth.marathon.models.timestamps import format_timestamp

# Marathon: 0 consecutive failures means "never kill"; Mesos kills at the N-th failure.
NEVER = 2**31 - 1

_LABEL_NAME = re.compile(r"[^A-Za-z0-9_]")


def _env_name(text: str) -> str:
    return _LABEL_NAME.sub("_", text).upper()


def docker_network(app: AppDefinition) -> tuple[str, str | None]:
    """Mesos's network for the app's container: (HOST|BRIDGE|USER, network name)."""
    modes = {n.mode for n in app.networks}
    if NetworkMode.BRIDGE in modes:
        return "BRIDGE", None
    if NetworkMode.CONTAINER in modes:
        return "USER", next((n.name for n in app.networks if n.name), None)
    return "HOST", None


def container_ports(app: AppDefinition, host_ports: Sequence[int]) -> list[tuple[int, int]]:
    """(host port, container port) per port mapping that has a host port.

    ``containerPort`` 0 means "the same as the host port".
    """
    pairs: list[tuple[int, int]] = []
    ports = iter(host_ports)
    for mapping in app.port_mappings:
        if mapping.host_port is None:
            continue
        host = next(ports, None)
        if host is None:
            break
        pairs.append((host, mapping.container_port or host))
    return pairs


def health_check_port(
    check: HealthCheck, app: AppDefinition, host_ports: Sequence[int]
) -> int | None:
    """The port the agent probes: host port on host networking, container port when
    the container has its own network (the agent probes the container's address)."""
    if check.port is not None:
        return check.port
    index = check.port_index if check.port_index is not None else 0
    if app.is_host_networking:
        return host_ports[index] if index < len(host_ports) else None
    mappings = app.port_mappings
    if index >= len(mappings):
        return None
    mapping = mappings[index]
    if mapping.container_port:
        return mapping.container_port
    pairs = dict(enumerate(container_ports(app, host_ports)))
    return pairs[index][0] if index in pairs else None


def mesos_health_check(app: AppDefinition, host_ports: Sequence[int]) -> JSON | None:
    """The first of the app's health checks, as a Mesos HealthCheck (or None)."""
    for check in app.health_checks:
        common: JSON = {
            "delay_seconds": float(check.delay_seconds),
            "interval_seconds": float(check.interval_seconds),
            "timeout_seconds": float(check.timeout_seconds),
            "grace_period_seconds": float(check.grace_period_seconds),
            "consecutive_failures": check.max_consecutive_failures or NEVER,
        }
        protocol = check.protocol
        if protocol is HealthCheckProtocol.COMMAND:
            if not check.command:
                continue
            return {**common, "type": "COMMAND", "command": {"value": check.command}}
        port = health_check_port(check, app, host_ports)
        if port is None:
            continue
        if protocol in (HealthCheckProtocol.TCP, HealthCheckProtocol.MESOS_TCP):
            return {**common, "type": "TCP", "tcp": {"port": port}}
        scheme = (
            "https"
            if protocol in (HealthCheckProtocol.HTTPS, HealthCheckProtocol.MESOS_HTTPS)
            else "http"
        )
        return {
            **common,
            "type": "HTTP",
            "http": {"port": port, "path": check.path or "/", "scheme": scheme},
        }
    return None


def task_environment(
    app: AppDefinition, task_id: str, hostname: str, host_ports: Sequence[int]
) -> dict[str, str]:
    env: dict[str, str] = {}
    for i, port in enumerate(host_ports):
        env[f"PORT{i}"] = str(port)
    if host_ports:
        env["PORT"] = str(host_ports[0])
        env["PORTS"] = ",".join(str(p) for p in host_ports)
    for name, port in zip(app.port_names, host_ports, strict=False):
        if name:
            env[f"PORT_{_env_name(name)}"] = str(port)
    env["HOST"] = hostname
    env["MESOS_TASK_ID"] = task_id
    env["MARATHON_APP_ID"] = str(app.id)
    if app.version is not None:
        env["MARATHON_APP_VERSION"] = format_timestamp(app.version)
    if app.docker_image:
        env["MARATHON_APP_DOCKER_IMAGE"] = app.docker_image
    env["MARATHON_APP_RESOURCE_CPUS"] = f"{app.cpus:g}"
    env["MARATHON_APP_RESOURCE_MEM"] = f"{app.mem:g}"
    env["MARATHON_APP_RESOURCE_DISK"] = f"{app.disk:g}"
    env["MARATHON_APP_RESOURCE_GPUS"] = str(app.gpus)
    labels = dict(app.labels)
    env["MARATHON_APP_LABELS"] = " ".join(_env_name(k) for k in labels)
    for key, value in labels.items():
        env[f"MARATHON_APP_LABEL_{_env_name(key)}"] = value
    for key, env_value in app.env.items():
        if isinstance(env_value, EnvSecretRef):
            continue  # secrets need a secret store (not in this release)
        env[key] = env_value
    return env


def task_info(
    app: AppDefinition,
    *,
    task_id: str,
    agent_id: str,
    hostname: str,
    host_ports: Sequence[int],
    resources: Resources,
    role: str,
) -> JSON:
    env = task_environment(app, task_id, hostname, host_ports)
    command: JSON = {
        "environment": {"variables": [{"name": k, "value": v} for k, v in env.items()]},
    }
    if app.cmd:
        command.update({"value": app.cmd, "shell": True})
    elif app.args:
        command["shell"] = False
        if app.docker_image is None:
            command["value"] = app.args[0]
        command["arguments"] = list(app.args)
    if app.user:
        command["user"] = app.user
    if app.fetch:
        command["uris"] = [
            {
                "value": f.uri,
                "extract": f.extract,
                "executable": f.executable,
                "cache": f.cache,
                **({"output_file": f.dest_path} if f.dest_path else {}),
            }
            for f in app.fetch
        ]
    info: JSON = {
        "name": app.id.safe_name or "app",
        "task_id": id_of(task_id),
        "agent_id": id_of(agent_id),
        "resources": resources.to_mesos(allocation_role=role),
        "command": command,
        "labels": {
            "labels": [{"key": k, "value": v} for k, v in app.labels.items()],
        },
    }
    container = app.container
    if container is not None and (container.docker is not None or container.volumes):
        network, network_name = docker_network(app)
        mesos_container: JSON = {"type": "DOCKER" if container.docker else "MESOS"}
        if container.docker is not None:
            docker: JSON = {
                "image": container.docker.image,
                "network": network,
                "privileged": container.docker.privileged,
                "force_pull_image": container.docker.force_pull_image,
                "parameters": [
                    {"key": p.key, "value": p.value} for p in container.docker.parameters
                ],
            }
            if network in ("BRIDGE", "USER"):
                docker["port_mappings"] = [
                    {"host_port": host, "container_port": cport, "protocol": "tcp"}
                    for host, cport in container_ports(app, host_ports)
                ]
            # A MESOS container with a Docker image runs through the agent's Docker
            # containerizer too: Berth's agents have one engine for images.
            mesos_container = {"type": "DOCKER", "docker": docker}
        if network_name:
            mesos_container["network_infos"] = [{"name": network_name}]
        mesos_container["volumes"] = [
            {"container_path": v.container_path, "host_path": v.host_path, "mode": v.mode.value}
            for v in container.volumes
            if isinstance(v, HostVolume)
        ]
        info["container"] = mesos_container
    health = mesos_health_check(app, host_ports)
    if health is not None:
        info["health_check"] = health
    if app.task_kill_grace_period_seconds is not None:
        info["kill_policy"] = {
            "grace_period": {"nanoseconds": int(app.task_kill_grace_period_seconds * 1e9)}
        }
    if app.port_names and host_ports:
        info["discovery"] = {
            "visibility": "FRAMEWORK",
            "name": app.id.safe_name,
            "ports": {
                "ports": [
                    {"number": port, "name": name or f"port{i}", "protocol": "tcp"}
                    for i, (name, port) in enumerate(zip(app.port_names, host_ports, strict=False))
                ]
            },
        }
    return info
