"""Which cluster a client command talks to, and the saved configuration.

The cluster is found from ``--url``, else ``BERTH_URL``, else the URL saved by
``berth cluster setup URL`` (``$XDG_CONFIG_HOME/berth/config.toml``, mode 0600), else
``http://127.0.0.1:8000``. That URL is the gateway: marathon is behind
``/service/marathon``, the master behind ``/mesos``, each agent behind ``/agent/<id>``.

Where there is no gateway (tests, simple setups), marathon and the master can be named
directly with ``--marathon-url`` / ``--master-url`` (or ``BERTH_MARATHON_URL`` /
``BERTH_MASTER_URL``); agents are then reached at the address the master knows them by.
``cluster setup`` saves such direct URLs too when the URL it is given is a marathon.

A saved configuration is one cluster: its direct URLs apply only while its URL is the one
in use, so ``--url`` or ``BERTH_URL`` pointing elsewhere never mixes in another cluster's
marathon.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from berth.cli.client.errors import UsageProblem

DEFAULT_URL = "http://127.0.0.1:8000"
MARATHON_PREFIX = "/service/marathon"
MASTER_PREFIX = "/mesos"

ENV_URL = "BERTH_URL"
ENV_MARATHON = "BERTH_MARATHON_URL"
ENV_MASTER = "BERTH_MASTER_URL"

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
# A Mesos pid: ``slave(1)@10.0.0.5:5051``.
_PID = re.compile(r"@(?P<host>[^@:]+|\[[^\]]+\]):(?P<port>\d+)$")


@dataclass(frozen=True, slots=True)
class Saved:
    """What ``berth cluster setup`` saved (every field optional)."""

    url: str | None = None
    marathon_url: str | None = None
    master_url: str | None = None


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where each service of one cluster answers.

    ``source`` says where ``url`` came from (``--url``, ``BERTH_URL``, the config file
    path, or ``default``), for messages. ``direct_agents`` is true when the master is
    reached directly, so agents are too (no gateway to route ``/agent/<id>``).
    """

    url: str
    marathon: str
    master: str
    source: str
    direct_agents: bool = False

    def agent(self, agent_id: str, pid: str | None) -> str:
        """The base URL of one agent.

        >>> e = Endpoints("http://gw", "http://gw/service/marathon", "http://gw/mesos", "x")
        >>> e.agent("S1", "slave(1)@10.0.0.5:5051")
        'http://gw/agent/S1'
        >>> Endpoints("http://gw", "http://m:8080", "http://m:5050", "x", True).agent(
        ...     "S1", "slave(1)@10.0.0.5:5051")
        'http://10.0.0.5:5051'
        """
        if self.direct_agents and pid:
            m = _PID.search(pid)
            if m:
                return f"http://{m.group('host')}:{m.group('port')}"
        return f"{self.url}/agent/{agent_id}"


def normalize_url(text: str) -> str:
    """A base URL without trailing slash; ``http://`` is assumed when no scheme is given.

    >>> normalize_url("127.0.0.1:8000/"), normalize_url("https://berth.example")
    ('http://127.0.0.1:8000', 'https://berth.example')
    """
    text = text.strip()
    if not text:
        raise UsageProblem("an empty URL: give one like http://127.0.0.1:8000")
    if not _SCHEME.match(text):
        text = "http://" + text
    scheme = text.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise UsageProblem(f"{text!r} is not an http(s) URL: give one like http://127.0.0.1:8000")
    return text.rstrip("/")


def resolve(
    *,
    url: str | None,
    marathon_url: str | None,
    master_url: str | None,
    env: Mapping[str, str],
    saved: Saved,
    saved_from: str = "config",
) -> Endpoints:
    """The endpoints a command uses: flags, then environment, then saved config, then the
    default (see the module docstring for why saved direct URLs go with the saved URL).

    >>> resolve(url=None, marathon_url=None, master_url=None, env={}, saved=Saved()).marathon
    'http://127.0.0.1:8000/service/marathon'
    >>> resolve(url=None, marathon_url=None, master_url=None,
    ...         env={"BERTH_URL": "gw:80"}, saved=Saved(url="http://other")).url
    'http://gw:80'
    """
    base: str | None
    if url:
        base, source = url, "--url"
    elif env.get(ENV_URL):
        base, source = env[ENV_URL], ENV_URL
    elif saved.url:
        base, source = saved.url, saved_from
    else:
        base, source = DEFAULT_URL, "default"
    base = normalize_url(base)
    from_saved = source == saved_from
    marathon = (
        marathon_url
        or env.get(ENV_MARATHON)
        or (saved.marathon_url if from_saved else None)
        or base + MARATHON_PREFIX
    )
    master_given = master_url or env.get(ENV_MASTER) or (saved.master_url if from_saved else None)
    master = master_given or base + MASTER_PREFIX
    return Endpoints(
        url=base,
        marathon=normalize_url(marathon),
        master=normalize_url(master),
        source=source,
        direct_agents=bool(master_given),
    )


def config_path(env: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/berth/config.toml`` (``~/.config`` when unset).

    >>> str(config_path({"XDG_CONFIG_HOME": "/cfg"}))
    '/cfg/berth/config.toml'
    """
    base = env.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base else Path(env.get("HOME") or Path.home()) / ".config"
    return root / "berth" / "config.toml"


def load(path: Path) -> Saved:
    """The saved configuration; an absent file is an empty one."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return Saved()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageProblem(f"cannot read {path}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageProblem(
            f"{path} is not valid TOML ({e}): fix it or run `berth cluster setup URL` again"
        ) from None
    cluster = data.get("cluster", {})
    if not isinstance(cluster, dict):
        cluster = {}

    def text(key: str) -> str | None:
        value = cluster.get(key)
        return value if isinstance(value, str) and value else None

    return Saved(text("url"), text("marathon_url"), text("master_url"))


def toml_string(value: str) -> str:
    r"""A TOML basic string: quotes, backslashes and control characters escaped.

    JSON's escapes are not TOML's (JSON writes characters beyond the BMP as surrogate
    pairs, which TOML refuses), hence this.

    >>> print(toml_string('say "hi" \\ ok'))
    "say \"hi\" \\ ok"
    >>> toml_string(chr(10) + chr(0x1F600))
    '"\\u000a😀"'
    """
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def dumps(saved: Saved) -> str:
    """The TOML text of ``saved``.

    >>> print(dumps(Saved(url="http://gw:8000")), end="")
    # Written by `berth cluster setup`.
    [cluster]
    url = "http://gw:8000"
    """
    lines = ["# Written by `berth cluster setup`.", "[cluster]"]
    for key in ("url", "marathon_url", "master_url"):
        value = getattr(saved, key)
        if value:
            lines.append(f"{key} = {toml_string(value)}")
    return "\n".join(lines) + "\n"


def save(path: Path, saved: Saved) -> None:
    """Write the configuration readable by its owner only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(dumps(saved))
        os.chmod(tmp, 0o600)  # in case the file existed with looser bits
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
