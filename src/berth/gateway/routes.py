"""Where a request to the gateway goes: pure functions from a path to a target.

The route table follows DC/OS's Admin Router (reference ``dcos.md`` (a)). Deciding is
kept apart from doing: :func:`resolve` returns a value saying what to do, and the
service carries it out. Paths are the *raw* (still percent-encoded) request paths, so
what is forwarded upstream is byte for byte what the client sent after the prefix.

Route table, first match wins:

| path | target |
|---|---|
| exact local documents (``/health``, ``/metadata``, ``/dcos-metadata/…``, …) | ``Local`` |
| ``/mesos_dns/v1/hosts/<name>`` | ``DnsHost`` (masters and frameworks, from the master) |
| ``/marathon``, ``/service/marathon``, ``/mesos`` (bare) | ``Redirect`` (slash added) |
| ``/marathon/…``, ``/service/marathon/…`` | ``Proxy("marathon")``, prefix stripped |
| ``/mesos/…`` | ``Proxy("master")``, prefix stripped |
| ``/slave/<id>/…``, ``/agent/<id>/…`` | ``ToAgent`` |
| ``/service/<other>…``, ``/mesos_dns…``, Enterprise-only and unserved DC/OS APIs | ``Reject`` |
| anything else | ``Ui`` (a file of the web UI), or ``Reject`` for a traversal attempt |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

Upstream = Literal["master", "marathon"]
LocalPage = Literal[
    "health",
    "metrics",
    "metadata",
    "dcos-version",
    "ui-config",
    "buildinfo",
    "auth-providers",
    "berth-ui",
]


@dataclass(frozen=True, slots=True)
class Proxy:
    """Forward to one of the gateway's fixed upstreams: ``path`` there, ``prefix`` here."""

    upstream: Upstream
    path: str
    prefix: str


@dataclass(frozen=True, slots=True)
class ToAgent:
    """Forward to the agent with this id (its address comes from the master)."""

    agent_id: str
    path: str
    prefix: str


@dataclass(frozen=True, slots=True)
class Redirect:
    location: str
    status: int


@dataclass(frozen=True, slots=True)
class Local:
    """A document the gateway answers itself."""

    page: LocalPage


@dataclass(frozen=True, slots=True)
class DnsHost:
    """A Mesos-DNS host lookup (``/mesos_dns/v1/hosts/<name>``), lower-cased, without the
    trailing dot. There is no Mesos-DNS yet; the names DC/OS tooling asks for (the
    masters for ``dcos node``, ``marathon.mesos`` for ``dcos marathon leader show``) are
    answered from the master's state."""

    name: str


@dataclass(frozen=True, slots=True)
class Ui:
    """A file of the web UI, relative to its directory (``index.html`` is the start page)."""

    path: str


@dataclass(frozen=True, slots=True)
class Reject:
    """An answer without an upstream: a status and a message saying why."""

    status: int
    message: str


Target = Proxy | ToAgent | Redirect | Local | DnsHost | Ui | Reject

SERVICE_NOT_FOUND = "404 Not Found: service not found."
DNS_NOT_RUNNING = "Mesos-DNS is not running in this cluster."
INDEX = "index.html"

# Exact paths answered by the gateway itself.
_LOCAL: dict[str, LocalPage] = {
    "/health": "health",
    "/metrics": "metrics",
    "/metadata": "metadata",
    "/dcos-metadata/dcos-version.json": "dcos-version",
    "/dcos-metadata/ui-config.json": "ui-config",
    "/pkgpanda/active.buildinfo.full.json": "buildinfo",
    "/acs/api/v1/auth/providers": "auth-providers",
    "/berth-ui.json": "berth-ui",
}

# Exact paths that are deliberately absent, with why. The DC/OS CLI reads a 404 on each
# as "feature not here" and carries on: no Cosmos (so `dcos task log` uses the agents'
# files API), no Enterprise CA, no cluster links.
_ABSENT: dict[str, str] = {
    "/capabilities": "404 Not Found: no package manager (Cosmos) in this cluster.",
    "/ca/dcos-ca.crt": "404 Not Found: /ca/dcos-ca.crt exists only in Enterprise DC/OS.",
    "/cluster/v1/links": "404 Not Found: /cluster/v1/links exists only in Enterprise DC/OS.",
}

# Prefixes proxied to a fixed upstream, with the prefix stripped. A bare prefix gets a
# trailing slash (307 keeps the method for clients that POST to it).
_PROXIED: tuple[tuple[str, Upstream, int], ...] = (
    ("/marathon", "marathon", 307),
    ("/service/marathon", "marathon", 301),
    ("/mesos", "master", 307),
)

_AGENT_PREFIXES = ("/slave", "/agent")
_DNS_HOSTS = "/mesos_dns/v1/hosts/"
# Mesos agent ids look like `<uuid>-S3`; anything outside this alphabet is a typo.
_AGENT_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

# DC/OS APIs under these prefixes are not served by Berth: a clear 4xx/5xx, never a
# web UI file that happens not to exist.
_UNSERVED: tuple[tuple[str, int, str], ...] = (
    ("/mesos_dns", 503, DNS_NOT_RUNNING),
    ("/acs", 404, "404 Not Found: this cluster has no authentication (open cluster)."),
    ("/pkgpanda", 404, "404 Not Found: no package manager (pkgpanda) in this cluster."),
    ("/dcos-metadata", 404, "404 Not Found: no such cluster metadata document."),
    ("/package", 404, "404 Not Found: no package manager (Cosmos) in this cluster."),
    ("/cosmos", 404, "404 Not Found: no package manager (Cosmos) in this cluster."),
    ("/system", 404, "404 Not Found: the DC/OS system APIs are not served by Berth."),
)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def resolve(path: str, query: str = "") -> Target:
    """Decide what a request for the raw ``path`` (and raw ``query``) gets.

    >>> resolve("/marathon/v2/apps", "embed=apps.tasks")
    Proxy(upstream='marathon', path='/v2/apps', prefix='/marathon')
    >>> resolve("/marathon", "a=1")
    Redirect(location='/marathon/?a=1', status=307)
    >>> resolve("/slave/S0/files/read.json")
    ToAgent(agent_id='S0', path='/files/read.json', prefix='/slave/S0')
    >>> resolve("/service/nope/x")
    Reject(status=404, message='404 Not Found: service not found.')
    >>> resolve("/mesos_dns/v1/hosts/Master.mesos.")
    DnsHost(name='master.mesos')
    >>> resolve("/")
    Ui(path='index.html')
    """
    suffix = f"?{query}" if query else ""
    local = _LOCAL.get(path)
    if local is not None:
        return Local(local)
    absent = _ABSENT.get(path)
    if absent is not None:
        return Reject(404, absent)
    if path.startswith(_DNS_HOSTS):
        name = unquote(path[len(_DNS_HOSTS) :]).lower().rstrip(".")
        if name and "/" not in name:
            return DnsHost(name)
    for prefix, upstream, status in _PROXIED:
        if path == prefix:
            return Redirect(prefix + "/" + suffix, status)
        if path.startswith(prefix + "/"):
            return Proxy(upstream, path[len(prefix) :], prefix)
    if _under(path, "/service"):
        return Reject(404, SERVICE_NOT_FOUND)
    for prefix in _AGENT_PREFIXES:
        if _under(path, prefix):
            return _agent_target(prefix, path, suffix)
    for prefix, status, message in _UNSERVED:
        if _under(path, prefix):
            return Reject(status, message)
    return ui_target(path)


def _agent_target(prefix: str, path: str, suffix: str) -> Target:
    raw_id, slash, rest = path[len(prefix) + 1 :].partition("/")
    agent_id = unquote(raw_id)
    if not agent_id:
        return Reject(404, f"404 Not Found: {prefix}/<agent-id>/<path> needs an agent id.")
    if not _AGENT_ID.fullmatch(agent_id):
        return Reject(400, f"400 Bad Request: {agent_id!r} is not a valid agent id.")
    here = f"{prefix}/{raw_id}"
    if not slash:
        return Redirect(here + "/" + suffix, 301)
    return ToAgent(agent_id, "/" + rest, here)


def ui_target(path: str) -> Ui | Reject:
    """The web UI file a path names: directories mean their ``index.html``; a path that
    tries to climb out of the UI's folder (a ``..`` segment, even percent-encoded) is
    refused.

    >>> ui_target("/assets/app.js")
    Ui(path='assets/app.js')
    >>> ui_target("/docs/")
    Ui(path='docs/index.html')
    >>> ui_target("/%2e%2e/etc/passwd").status
    400
    """
    decoded = unquote(path)
    if "\x00" in decoded or "\\" in decoded:
        return Reject(400, "400 Bad Request: the path holds a NUL or a backslash.")
    segments = decoded.split("/")
    if any(s in ("..", ".") for s in segments):
        return Reject(400, "400 Bad Request: '.' and '..' are not allowed in paths.")
    parts = [s for s in segments if s]
    if not parts or decoded.endswith("/"):
        parts.append(INDEX)
    return Ui("/".join(parts))


_LOOPBACK = {"localhost", "127.0.0.1", "[::1]", "::1"}


def _same_authority(a: str, b: str) -> bool:
    """``host:port`` equality, treating the loopback names as one host."""
    a_host, _, a_port = a.lower().rpartition(":")
    b_host, _, b_port = b.lower().rpartition(":")
    if a_port != b_port:
        return False
    return a_host == b_host or (a_host in _LOOPBACK and b_host in _LOOPBACK)


def rewrite_location(location: str, upstream: str, prefix: str) -> str:
    """Keep an upstream's redirect under the gateway prefix it was reached through.

    Locations pointing at the upstream itself (absolute, scheme-relative or
    path-absolute) become path-absolute under ``prefix``; anything else (another host,
    a relative reference, which already resolves under the prefix) is left alone.

    >>> rewrite_location("http://127.0.0.1:8080/v2/apps/a", "127.0.0.1:8080", "/marathon")
    '/marathon/v2/apps/a'
    >>> rewrite_location("//127.0.0.1:5050", "127.0.0.1:5050", "/mesos")
    '/mesos/'
    >>> rewrite_location("/ui/?x=1", "127.0.0.1:8080", "/service/marathon")
    '/service/marathon/ui/?x=1'
    >>> rewrite_location("http://example.com/", "127.0.0.1:8080", "/marathon")
    'http://example.com/'
    """
    try:
        parts = urlsplit(location)
    except ValueError:
        return location
    if parts.scheme and parts.scheme not in ("http", "https"):
        return location
    if parts.netloc:
        if not _same_authority(parts.netloc, upstream):
            return location
    elif parts.scheme or not parts.path.startswith("/"):
        return location
    return urlunsplit(("", "", prefix + (parts.path or "/"), parts.query, parts.fragment))


def parse_pid(pid: str) -> str | None:
    """The ``host:port`` of a Mesos process id, or None when it does not parse.

    >>> parse_pid("slave(1)@10.0.0.7:5051")
    '10.0.0.7:5051'
    >>> parse_pid("nonsense") is None
    True
    """
    _, at, address = pid.partition("@")
    host, colon, port = address.rpartition(":")
    if not at or not colon or not host or not port.isdigit():
        return None
    return address
