"""``berth task ...``: list tasks, read their logs, kill them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from berth.cli.client import render
from berth.cli.client.commands.common import (
    DEFAULT_WAIT_TIMEOUT,
    JsonFlag,
    TimeoutOption,
    WaitFlag,
    app_path,
    complete_app_id,
)
from berth.cli.client.context import Cluster, client_command, cluster, group_options
from berth.cli.client.errors import ClientError
from berth.cli.client.logs import TaskRef, match_task, show_log
from berth.cli.client.wait import change

app = typer.Typer(
    callback=group_options,
    name="task",
    help="List tasks, read their logs, kill them.",
    no_args_is_help=True,
)


def _marathon_tasks(c: Cluster, app_id: str | None) -> list[dict[str, Any]]:
    path = f"/v2/apps{app_path(app_id)}/tasks" if app_id else "/v2/tasks"
    data = c.marathon("GET", path)
    tasks = data.get("tasks", []) if isinstance(data, dict) else []
    return [t for t in tasks if isinstance(t, dict)]


@app.command("list")
@client_command
def list_(
    app_id: Annotated[
        str | None,
        typer.Argument(
            metavar="[APP]", help="Only this app's tasks.", autocompletion=complete_app_id
        ),
    ] = None,
    json: JsonFlag = False,
) -> None:
    """List the tasks of every app, or of one."""
    tasks = _marathon_tasks(cluster(), app_id)
    if json:
        render.show_json(tasks)
    else:
        render.show_table(render.tasks_table(tasks), empty="no tasks")


@app.command("log")
@client_command
def log(
    task: Annotated[
        str, typer.Argument(metavar="TASK", help="A task id, or any part of one that is unique.")
    ],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing what the task writes.")
    ] = False,
    stderr: Annotated[
        bool, typer.Option("--stderr", help="Read stderr instead of stdout.")
    ] = False,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, metavar="N", help="Start with the last N lines.")
    ] = 10,
) -> None:
    """Print the last lines of a task's stdout (or stderr), and follow it with -f.

    Works for finished tasks too, as long as their agent keeps the sandbox.
    """
    show_log(cluster(), task, stderr=stderr, lines=lines, follow=follow)


@app.command("kill")
@client_command
def kill(
    tasks: Annotated[
        list[str],
        typer.Argument(metavar="TASK...", help="Task ids (or unique parts of them)."),
    ],
    scale: Annotated[
        bool,
        typer.Option("--scale", help="Also lower the apps' instance counts (no replacement)."),
    ] = False,
    wait: WaitFlag = False,
    timeout: TimeoutOption = DEFAULT_WAIT_TIMEOUT,
) -> None:
    """Kill tasks; marathon starts replacements unless --scale."""
    c = cluster()
    known = [
        TaskRef(str(t.get("id", "")), str(t.get("slaveId", "")), "", str(t.get("state", "")))
        for t in _marathon_tasks(c, None)
    ]
    ids = sorted({match_task(known, t).task_id for t in tasks})
    if scale:
        change(
            c,
            lambda: c.marathon_reply(
                "POST", "/v2/tasks/delete", {"ids": ids}, query={"scale": True}
            ),
            wait=wait,
            timeout=timeout,
            what=f"killing {len(ids)} task(s), scaling down",
        )
        return
    data = c.marathon("POST", "/v2/tasks/delete", {"ids": ids})
    killed = data.get("tasks", []) if isinstance(data, dict) else []
    if not killed:
        raise ClientError("no task was killed (they may have ended already)")
    for task in killed:
        if isinstance(task, dict):
            print(f"killed {task.get('id')}")
