"""Small probes ``berth up`` makes before and while it starts the cluster.

Plain asyncio streams rather than an HTTP client library: ``berth up`` only needs a few
GETs on loopback, and not importing aiohttp (about a quarter of a second) lets it spawn
its children sooner.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from dataclasses import dataclass
from typing import Any

DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"


async def http_get(
    host: str, port: int, path: str, *, timeout: float = 2.0, unix: str | None = None
) -> tuple[int, bytes]:
    """``GET path`` over HTTP/1.0; (status, body). Raises ``OSError``/``TimeoutError``."""
    async with asyncio.timeout(timeout):
        if unix is not None:
            reader, writer = await asyncio.open_unix_connection(unix)
        else:
            reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise OSError(f"not an HTTP response from {host}:{port}{path}") from None
    return status, body


async def http_json(host: str, port: int, path: str, *, timeout: float = 2.0) -> Any:
    """The JSON body of a 200 answer to ``GET path``, else None."""
    try:
        status, body = await http_get(host, port, path, timeout=timeout)
    except (OSError, TimeoutError):
        return None
    if status != 200:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class DockerProbe:
    """Whether a Docker Engine answered, where, and as what version (or why not)."""

    where: str  # the socket path or host:port asked
    version: str | None  # None: nothing answered
    problem: str = ""

    @property
    def available(self) -> bool:
        return self.version is not None


def docker_endpoint(docker_host: str | None) -> tuple[str | None, str, int]:
    """(unix socket path, host, port) for ``DOCKER_HOST`` as the agent's client reads it.

    >>> docker_endpoint(None)
    ('/var/run/docker.sock', '', 0)
    >>> docker_endpoint("tcp://10.0.0.5:2375")
    (None, '10.0.0.5', 2375)
    """
    if not docker_host:
        return DEFAULT_DOCKER_SOCKET, "", 0
    if docker_host.startswith("unix://"):
        return docker_host.removeprefix("unix://"), "", 0
    rest = docker_host.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.rpartition(":")
    return None, host or "localhost", int(port or 2375)


async def probe_docker(timeout: float = 2.0) -> DockerProbe:
    """Ask the Docker Engine the agents will use (``DOCKER_HOST`` or the default socket)
    for its version."""
    try:
        unix, host, port = docker_endpoint(os.environ.get("DOCKER_HOST"))
    except ValueError:
        return DockerProbe(os.environ.get("DOCKER_HOST", ""), None, "DOCKER_HOST is not valid")
    where = unix or f"{host}:{port}"
    try:
        status, body = await http_get(
            host or "docker", port, "/version", timeout=timeout, unix=unix
        )
    except (OSError, TimeoutError) as e:
        return DockerProbe(where, None, str(e) or type(e).__name__)
    if status != 200:
        return DockerProbe(where, None, f"it answered HTTP {status}")
    try:
        version = str(json.loads(body).get("Version") or "unknown version")
    except (ValueError, AttributeError):
        version = "unknown version"
    return DockerProbe(where, version)


def port_free(host: str, port: int) -> bool:
    """True if ``host:port`` can be bound now, with the options the services bind with."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def loopback_aliases_work() -> bool:
    """True if 127.0.0.2 can be bound (Linux routes all of 127/8 to loopback; macOS
    does not without an alias)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.2", 0))
        except OSError:
            return False
    return True
