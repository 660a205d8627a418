"""``berth cluster ...``: choose the cluster the other commands talk to, and check on it."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from berth.cli.client import render
from berth.cli.client.commands.common import JsonFlag
from berth.cli.client.config import Saved, config_path, normalize_url, save
from berth.cli.client.context import Cluster, client_command, cluster, group_options
from berth.cli.client.errors import ClientError, Unreachable, unreachable
from berth.cli.client.http import Http

app = typer.Typer(
    callback=group_options,
    name="cluster",
    help="Choose the cluster the other commands talk to, and check on it.",
    no_args_is_help=True,
)


def _probe(http: Http, url: str) -> Any:
    """The JSON at ``url`` when it answers 200 with JSON, else None."""
    reply = http.request("GET", url, check=False)
    if reply.status != 200:
        return None
    try:
        return reply.json()
    except ClientError:
        return None


def master_url_of(marathon_info: Any) -> str | None:
    """The master's URL from marathon's ``/v2/info`` (None for ``zk://`` masters).

    >>> master_url_of({"marathon_config": {"master": "127.0.0.1:5050"}})
    'http://127.0.0.1:5050'
    >>> master_url_of({"marathon_config": {"master": "zk://zk1:2181/mesos"}}) is None
    True
    """
    config = marathon_info.get("marathon_config") if isinstance(marathon_info, dict) else None
    master = config.get("master") if isinstance(config, dict) else None
    if (
        not isinstance(master, str)
        or not master
        or ("://" in master and not master.startswith("http"))
    ):
        return None
    return normalize_url(master)


@app.command("setup")
@client_command
def setup(
    url: Annotated[
        str, typer.Argument(metavar="URL", help="The gateway (or marathon) URL, e.g. host:8000.")
    ],
) -> None:
    """Check that URL answers and save it as the cluster the other commands talk to.

    URL is a gateway (it answers /metadata) or, without a gateway, a marathon (it answers
    /v2/info; the master is then the one marathon names). The configuration is saved in
    $XDG_CONFIG_HOME/berth/config.toml (~/.config/berth/config.toml), readable only by you.
    """
    base = normalize_url(url)
    http = Http(timeout=10.0)
    path = config_path(os.environ)
    metadata = _probe(http, base + "/metadata")
    if isinstance(metadata, dict) and metadata.get("CLUSTER_ID"):
        save(path, Saved(url=base))
        print(f"cluster {metadata['CLUSTER_ID']} at {base}: saved in {path}")
        return
    info = _probe(http, base + "/v2/info")
    if isinstance(info, dict) and info.get("name") == "marathon":
        master = master_url_of(info)
        save(path, Saved(url=base, marathon_url=base, master_url=master))
        where = f"master at {master}" if master else "no master URL (give --master-url)"
        print(f"marathon at {base}, {where}: saved in {path}")
        return
    raise ClientError(
        f"{base} answers, but is neither a Berth gateway (/metadata) nor marathon (/v2/info)"
    )


def _status(c: Cluster) -> dict[str, Any]:
    out: dict[str, Any] = {"url": c.endpoints.url, "source": c.endpoints.source}
    try:
        info = c.marathon("GET", "/v2/info")
        apps = c.marathon("GET", "/v2/apps")
        out["marathon"] = {
            "url": c.endpoints.marathon,
            "reachable": True,
            "version": info.get("version"),
            "build": info.get("buildref"),
            "leader": info.get("leader"),
            "apps": len(apps.get("apps", [])),
        }
    except ClientError as e:
        out["marathon"] = {"url": c.endpoints.marathon, "reachable": False, "error": e.message}
    try:
        state = c.master("/master/state")
        agents = [a for a in state.get("slaves", []) if isinstance(a, dict)]
        out["master"] = {
            "url": c.endpoints.master,
            "reachable": True,
            "version": state.get("version"),
            "leader": state.get("leader"),
            "agents": len(agents),
            "active_agents": sum(1 for a in agents if a.get("active")),
            "frameworks": len(state.get("frameworks", [])),
        }
    except ClientError as e:
        out["master"] = {"url": c.endpoints.master, "reachable": False, "error": e.message}
    return out


def status_lines(status: dict[str, Any]) -> list[str]:
    """``cluster status`` for people.

    >>> status_lines({"url": "http://gw", "source": "default",
    ...     "marathon": {"url": "http://m", "reachable": False, "error": "no"},
    ...     "master": {"url": "http://ms", "reachable": True, "version": "1.11.0",
    ...                "agents": 2, "active_agents": 1, "frameworks": 1}})
    ['cluster   http://gw (default)', 'marathon  http://m: unreachable: no', \
'master    http://ms: up, version 1.11.0, 1/2 agents active, 1 framework(s)']
    """
    lines = [f"cluster   {status['url']} ({status['source']})"]
    m = status["marathon"]
    if m["reachable"]:
        lines.append(
            f"marathon  {m['url']}: up, version {m['version']} ({m['build']}), {m['apps']} app(s)"
        )
    else:
        lines.append(f"marathon  {m['url']}: unreachable: {m['error']}")
    s = status["master"]
    if s["reachable"]:
        lines.append(
            f"master    {s['url']}: up, version {s['version']}, "
            f"{s['active_agents']}/{s['agents']} agents active, {s['frameworks']} framework(s)"
        )
    else:
        lines.append(f"master    {s['url']}: unreachable: {s['error']}")
    return lines


@app.command("status")
@client_command
def status(json: JsonFlag = False) -> None:
    """Show which cluster the commands talk to and whether marathon and the master answer.

    Exits 3 when either cannot be reached.
    """
    c = cluster()
    result = _status(c)
    if json:
        render.show_json(result)
    else:
        for line in status_lines(result):
            print(line)
    up = result["marathon"]["reachable"], result["master"]["reachable"]
    if not any(up):
        raise unreachable(c.endpoints.url)
    if not all(up):
        raise Unreachable("part of the cluster cannot be reached (see above)")
