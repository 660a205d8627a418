"""What listings look like: rows for people (pure) and the JSON for scripts.

Each ``*_table`` function turns the API's JSON into a `Table` (headers and rows of
strings) without printing anything, so it is tested directly; `show_table` draws one
with rich, `show_json` prints the API's own JSON (indented, keys in the server's order)
so ``--json`` output can be fed back to the API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _num(value: Any) -> str:
    """A resource amount without noise: ``0.1``, ``64``, ``1.5``.

    >>> _num(64.0), _num(0.1), _num(None)
    ('64', '0.1', '-')
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3g}"


def _health(app: Mapping[str, Any]) -> str:
    if not app.get("healthChecks"):
        return "-"
    return f"{app.get('tasksHealthy', 0)}/{app.get('instances', 0)}"


def _what(app: Mapping[str, Any]) -> str:
    container = app.get("container")
    if isinstance(container, dict):
        docker = container.get("docker")
        if isinstance(docker, dict) and docker.get("image"):
            return f"image {docker['image']}"
    cmd = app.get("cmd")
    if isinstance(cmd, str) and cmd:
        return cmd if len(cmd) <= 50 else cmd[:47] + "..."
    args = app.get("args")
    if isinstance(args, list) and args:
        return " ".join(str(a) for a in args)[:50]
    return "-"


def apps_table(apps: Sequence[Mapping[str, Any]]) -> Table:
    """``app list``.

    >>> apps_table([{"id": "/web", "instances": 2, "tasksRunning": 1, "cpus": 0.1,
    ...     "mem": 64, "cmd": "serve", "deployments": [{"id": "d1"}]}]).rows
    (('/web', '1/2', '-', '0.1', '64', 'deploying', 'serve'),)
    """
    rows = []
    for app in apps:
        deploying = "deploying" if app.get("deployments") else "-"
        rows.append(
            (
                str(app.get("id", "")),
                f"{app.get('tasksRunning', 0)}/{app.get('instances', 0)}",
                _health(app),
                _num(app.get("cpus")),
                _num(app.get("mem")),
                deploying,
                _what(app),
            )
        )
    return Table(("ID", "TASKS", "HEALTHY", "CPUS", "MEM", "DEPLOYMENT", "COMMAND"), tuple(rows))


def _task_health(task: Mapping[str, Any]) -> str:
    results = task.get("healthCheckResults")
    if not isinstance(results, list) or not results:
        return "-"
    alive = all(isinstance(r, dict) and r.get("alive") for r in results)
    return "healthy" if alive else "unhealthy"


def _state(state: Any) -> str:
    return str(state or "-").removeprefix("TASK_")


def tasks_table(tasks: Sequence[Mapping[str, Any]]) -> Table:
    """``task list`` (Marathon's task JSON).

    >>> tasks_table([{"id": "web.1", "appId": "/web", "state": "TASK_RUNNING",
    ...     "host": "h1", "ports": [31000], "startedAt": "2024-01-01T00:00:00.000Z"}]).rows
    (('web.1', '/web', 'RUNNING', '-', 'h1', '31000', '2024-01-01T00:00:00.000Z'),)
    """
    rows = []
    for task in sorted(tasks, key=lambda t: (str(t.get("appId")), str(t.get("id")))):
        ports = task.get("ports")
        rows.append(
            (
                str(task.get("id", "")),
                str(task.get("appId", "")),
                _state(task.get("state")),
                _task_health(task),
                str(task.get("host") or "-"),
                ",".join(str(p) for p in ports) if isinstance(ports, list) and ports else "-",
                str(task.get("startedAt") or task.get("stagedAt") or "-"),
            )
        )
    return Table(("ID", "APP", "STATE", "HEALTH", "HOST", "PORTS", "STARTED"), tuple(rows))


_KINDS = {
    "StartApplication": "start",
    "ScaleApplication": "scale",
    "RestartApplication": "restart",
    "StopApplication": "stop",
    "ResolveArtifacts": "resolve",
}


def deployments_table(deployments: Sequence[Mapping[str, Any]]) -> Table:
    """``deployment list``.

    >>> deployments_table([{"id": "d1", "affectedApps": ["/a"], "currentStep": 1,
    ...     "totalSteps": 2, "currentActions": [{"action": "StartApplication", "app": "/a"}],
    ...     "version": "v1"}]).rows
    (('d1', '/a', '1/2', 'start /a', 'v1'),)
    """
    rows = []
    for d in deployments:
        actions = d.get("currentActions")
        shown = ", ".join(
            f"{_KINDS.get(str(a.get('action')), a.get('action'))} {a.get('app')}"
            for a in (actions if isinstance(actions, list) else [])
            if isinstance(a, dict)
        )
        apps = d.get("affectedApps")
        rows.append(
            (
                str(d.get("id", "")),
                ", ".join(str(a) for a in apps) if isinstance(apps, list) else "-",
                f"{d.get('currentStep', 0)}/{d.get('totalSteps', 0)}",
                shown or "-",
                str(d.get("version", "")),
            )
        )
    return Table(("ID", "APPS", "STEP", "ACTIONS", "VERSION"), tuple(rows))


_PID_ADDRESS = re.compile(r"@(.+)$")


def _used_of(agent: Mapping[str, Any], name: str) -> str:
    total = agent.get("resources")
    used = agent.get("used_resources")
    t = total.get(name) if isinstance(total, dict) else None
    u = used.get(name) if isinstance(used, dict) else None
    return f"{_num(u if u is not None else 0)}/{_num(t)}"


def _attributes(agent: Mapping[str, Any]) -> str:
    attrs = agent.get("attributes")
    if not isinstance(attrs, dict) or not attrs:
        return "-"
    return ";".join(f"{k}:{v}" for k, v in sorted(attrs.items()))


def nodes_table(agents: Sequence[Mapping[str, Any]]) -> Table:
    """``node list`` (the master's ``slaves``).

    >>> nodes_table([{"id": "S1", "hostname": "h1", "pid": "slave(1)@10.0.0.1:5051",
    ...     "active": True, "resources": {"cpus": 2, "mem": 1024},
    ...     "used_resources": {"cpus": 0.5}, "attributes": {"rack": "r1"}}]).rows
    (('S1', 'h1', '10.0.0.1:5051', 'active', '0.5/2', '0/1024', 'rack:r1'),)
    """
    rows = []
    for agent in sorted(agents, key=lambda a: str(a.get("hostname"))):
        m = _PID_ADDRESS.search(str(agent.get("pid", "")))
        rows.append(
            (
                str(agent.get("id", "")),
                str(agent.get("hostname", "")),
                m.group(1) if m else "-",
                "active" if agent.get("active") else "inactive",
                _used_of(agent, "cpus"),
                _used_of(agent, "mem"),
                _attributes(agent),
            )
        )
    return Table(("ID", "HOSTNAME", "ADDRESS", "STATE", "CPUS", "MEM", "ATTRIBUTES"), tuple(rows))


def versions_table(versions: Sequence[str], current: str | None) -> Table:
    """``app versions``: newest first, the one in use marked.

    >>> versions_table(["v2", "v1"], "v2").rows
    (('v2', 'current'), ('v1', ''))
    """
    ordered = sorted(versions, reverse=True)
    return Table(
        ("VERSION", ""),
        tuple((v, "current" if v == current else "") for v in ordered),
    )


def app_summary(app: Mapping[str, Any]) -> Table:
    """``app show``: the fields people look at first, one per row.

    >>> app_summary({"id": "/a", "instances": 1, "tasksRunning": 1, "cmd": "x"}).rows[:2]
    (('id', '/a'), ('tasks', '1/1 running'))
    """
    rows: list[tuple[str, str]] = [
        ("id", str(app.get("id", ""))),
        ("tasks", f"{app.get('tasksRunning', 0)}/{app.get('instances', 0)} running"),
    ]
    if app.get("healthChecks"):
        rows.append(("healthy", _health(app)))
    rows += [
        ("cpus", _num(app.get("cpus"))),
        ("mem", _num(app.get("mem"))),
        ("disk", _num(app.get("disk"))),
        ("command", _what(app)),
        ("version", str(app.get("version", "-"))),
    ]
    deployments = app.get("deployments")
    if isinstance(deployments, list) and deployments:
        rows.append(("deployments", ", ".join(str(d.get("id")) for d in deployments)))
    labels = app.get("labels")
    if isinstance(labels, dict) and labels:
        rows.append(("labels", ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))))
    failure = app.get("lastTaskFailure")
    if isinstance(failure, dict):
        rows.append(
            (
                "last failure",
                f"{failure.get('state', '')} {failure.get('message', '')}".strip(),
            )
        )
    return Table(("FIELD", "VALUE"), tuple(rows))


def dumps_json(data: Any) -> str:
    """The JSON printed by ``--json``.

    >>> print(dumps_json({"a": [1]}))
    {
      "a": [
        1
      ]
    }
    """
    return json.dumps(data, indent=2, ensure_ascii=False)


def show_json(data: Any) -> None:
    print(dumps_json(data), flush=True)


def show_table(table: Table, *, empty: str = "") -> None:
    """Draw ``table`` on stdout; ``empty`` is printed (to stderr) when it has no rows."""
    import sys

    if not table.rows:
        if empty:
            print(empty, file=sys.stderr)
        return
    import os

    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    out = RichTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header in table.headers:
        out.add_column(header, overflow="fold")
    for row in table.rows:
        out.add_row(*(Text(cell) for cell in row))  # never markup: ids may hold "[...]"
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        # Piped output is read by grep and awk: do not fold rows at 80 columns.
        console = Console(highlight=False, soft_wrap=False, width=250)
    console.print(out)
