"""``berth app ...``: add, inspect, change and remove apps (marathon's ``/v2/apps``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from berth.cli.client import render
from berth.cli.client.appfile import read_definition, update_body
from berth.cli.client.commands.common import (
    DEFAULT_WAIT_TIMEOUT,
    ForceFlag,
    JsonFlag,
    TimeoutOption,
    WaitFlag,
    app_path,
    complete_app_id,
)
from berth.cli.client.context import Cluster, client_command, cluster, group_options
from berth.cli.client.errors import ClientError, UsageProblem
from berth.cli.client.wait import change

app = typer.Typer(
    callback=group_options,
    name="app",
    help="Add, inspect, change and remove apps.",
    no_args_is_help=True,
)

AppId = Annotated[
    str,
    typer.Argument(
        metavar="ID", help="The app's id, e.g. /hello/web.", autocompletion=complete_app_id
    ),
]


def _query(force: bool) -> dict[str, bool]:
    return {"force": True} if force else {}


@app.command("add")
@client_command
def add(
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="An app definition (JSON); '-' reads stdin.")
    ],
    wait: WaitFlag = False,
    timeout: TimeoutOption = DEFAULT_WAIT_TIMEOUT,
    force: ForceFlag = False,
) -> None:
    """Add an app from its Marathon JSON definition (a group, with "apps"/"groups", too).

    Example: berth app add examples/web-server.json --wait
    """
    definition = read_definition(file)
    c = cluster()
    is_group = "apps" in definition or "groups" in definition
    path = "/v2/groups" if is_group else "/v2/apps"
    what = f"{'group' if is_group else 'app'} {definition.get('id', '')} added".replace("  ", " ")
    change(
        c,
        lambda: c.marathon_reply("POST", path, definition, query=_query(force)),
        wait=wait,
        timeout=timeout,
        what=what,
    )


@app.command("list")
@client_command
def list_(json: JsonFlag = False) -> None:
    """List the apps: tasks running/wanted, health, resources, deployments."""
    data = cluster().marathon("GET", "/v2/apps")
    apps: list[Any] = data.get("apps", []) if isinstance(data, dict) else []
    if json:
        render.show_json(apps)
    else:
        render.show_table(render.apps_table(apps), empty="no apps: add one with `berth app add`")


@app.command("show")
@client_command
def show(app_id: AppId, json: JsonFlag = False) -> None:
    """Show one app: its definition's main fields and its tasks (--json: all of it)."""
    data = cluster().marathon("GET", f"/v2/apps{app_path(app_id)}")
    shown = data.get("app", data) if isinstance(data, dict) else data
    if json:
        render.show_json(shown)
        return
    render.show_table(render.app_summary(shown))
    tasks = shown.get("tasks") if isinstance(shown, dict) else None
    if isinstance(tasks, list) and tasks:
        print()
        render.show_table(render.tasks_table(tasks))


@app.command("update")
@client_command
def update(
    app_id: AppId,
    changes: Annotated[
        list[str],
        typer.Argument(
            metavar="FILE|-|KEY=VALUE...",
            help="A JSON file of fields to change, '-' for stdin, or key=value pairs "
            "(values are JSON when they parse as JSON; dots nest: "
            "upgradeStrategy.minimumHealthCapacity=0.5).",
        ),
    ],
    wait: WaitFlag = False,
    timeout: TimeoutOption = DEFAULT_WAIT_TIMEOUT,
    force: ForceFlag = False,
) -> None:
    """Change some fields of an app (the others keep their values).

    Example: berth app update /web instances=3 cmd="python3 -m http.server $PORT0"
    """
    path = app_path(app_id)
    body = update_body(changes)
    if "id" in body and app_path(str(body["id"])) != path:
        raise UsageProblem(f"the definition's id {body['id']!r} is not {path}")
    c = cluster()
    _require_app(c, path)
    change(
        c,
        lambda: c.marathon_reply("PUT", f"/v2/apps{path}", body, query=_query(force)),
        wait=wait,
        timeout=timeout,
        what=f"app {path} updated",
        apps=[path],
    )


def _require_app(c: Cluster, path: str) -> dict[str, Any]:
    """The app; a clear error when it does not exist (PUT would create it)."""
    found = c.app_or_none(path)
    if found is None:
        raise ClientError(f"App '{path}' does not exist: see `berth app list`")
    return dict(found)


@app.command("scale")
@client_command
def scale(
    app_id: AppId,
    instances: Annotated[int, typer.Argument(metavar="N", min=0, help="How many instances.")],
    wait: WaitFlag = False,
    timeout: TimeoutOption = DEFAULT_WAIT_TIMEOUT,
    force: ForceFlag = False,
) -> None:
    """Run N instances of an app."""
    path = app_path(app_id)
    c = cluster()
    _require_app(c, path)
    change(
        c,
        lambda: c.marathon_reply(
            "PUT", f"/v2/apps{path}", {"instances": instances}, query=_query(force)
        ),
        wait=wait,
        timeout=timeout,
        what=f"app {path} scaling to {instances}",
        apps=[path],
    )


@app.command("restart")
@client_command
def restart(
    app_id: AppId,
    wait: WaitFlag = False,
    timeout: TimeoutOption = DEFAULT_WAIT_TIMEOUT,
    force: ForceFlag = False,
) -> None:
    """Replace every instance of an app with a new one (following its upgrade strategy)."""
    path = app_path(app_id)
    c = cluster()
    change(
        c,
        lambda: c.marathon_reply("POST", f"/v2/apps{path}/restart", query=_query(force)),
        wait=wait,
        timeout=timeout,
        what=f"app {path} restarting",
        apps=[path],
    )


@app.command("versions")
@client_command
def versions(app_id: AppId, json: JsonFlag = False) -> None:
    """List the versions of an app's definition, newest first."""
    path = app_path(app_id)
    c = cluster()
    listed = _versions(c, path)
    if json:
        render.show_json(sorted(listed, reverse=True))
        return
    current = c.app_or_none(path)
    render.show_table(render.versions_table(listed, current.get("version") if current else None))


def _versions(c: Cluster, path: str) -> list[str]:
    """The app's versions as marathon lists them (``GET /v2/apps/<id>/versions``)."""
    data = c.marathon("GET", f"/v2/apps{path}/versions")
    return [str(v) for v in data.get("versions", [])] if isinstance(data, dict) else []


def previous_version(versions: list[str], current: str | None) -> str | None:
    """The version before ``current`` (timestamps sort as text).

    >>> previous_version(["2024-01-03", "2024-01-01", "2024-01-02"], "2024-01-03")
    '2024-01-02'
    >>> previous_version(["2024-01-01"], "2024-01-01") is None
    True
    """
    older = sorted((v for v in versions if current is None or v < current), reverse=True)
    return older[0] if older else None


@app.command("rollback")
@client_command
def rollback(
    app_id: AppId,
    version: Annotated[
        str | None,
        typer.Argument(
            metavar="[VERSION]", help="The version to go back to (default: the previous one)."
        ),
    ] = None,
    wait: WaitFlag = False,
    timeout: TimeoutOption = DEFAULT_WAIT_TIMEOUT,
    force: ForceFlag = False,
) -> None:
    """Go back to an earlier version of an app's definition (by default, the previous one).

    The rollback is itself a change, with a version of its own: rolling back twice
    returns to where you started.
    """
    path = app_path(app_id)
    c = cluster()
    current = _require_app(c, path)
    if version is None:
        version = previous_version(_versions(c, path), current.get("version"))
        if version is None:
            raise ClientError(f"app {path} has no earlier version to roll back to")
    target = version
    change(
        c,
        lambda: c.marathon_reply(
            "PUT", f"/v2/apps{path}", {"version": target}, query=_query(force)
        ),
        wait=wait,
        timeout=timeout,
        what=f"app {path} rolling back to {target}",
        apps=[path],
    )


@app.command("remove")
@client_command
def remove(
    app_id: AppId,
    wait: WaitFlag = False,
    timeout: TimeoutOption = DEFAULT_WAIT_TIMEOUT,
) -> None:
    """Remove an app and stop its tasks."""
    path = app_path(app_id)
    c = cluster()
    change(
        c,
        lambda: c.marathon_reply("DELETE", f"/v2/apps{path}", query={"force": True}),
        wait=wait,
        timeout=timeout,
        what=f"app {path} removed",
        apps=[path],
    )
