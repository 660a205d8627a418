"""``berth deployment ...``: see, follow, roll back and stop deployments."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from berth.cli.client import progress, render
from berth.cli.client.commands.common import (
    DEFAULT_WAIT_TIMEOUT,
    JsonFlag,
    TimeoutOption,
    WaitFlag,
)
from berth.cli.client.context import Cluster, client_command, cluster, group_options
from berth.cli.client.errors import ClientError
from berth.cli.client.wait import EventFeed, change, follow, report, running_deployments

app = typer.Typer(
    callback=group_options,
    name="deployment",
    help="See, follow, roll back and stop deployments.",
    no_args_is_help=True,
)

DeploymentId = Annotated[
    str, typer.Argument(metavar="ID", help="A deployment id (or a unique prefix of one).")
]


def _find(c: Cluster, wanted: str) -> dict[str, Any]:
    found = [d for d in running_deployments(c) if str(d.get("id", "")).startswith(wanted)]
    exact = [d for d in found if d.get("id") == wanted]
    if exact:
        return exact[0]
    if not found:
        raise ClientError(
            f"deployment {wanted} is not in progress (it finished, or never existed): "
            "see `berth deployment list`"
        )
    if len(found) > 1:
        raise ClientError(f"{len(found)} deployments start with {wanted!r}: give more of the id")
    return found[0]


@app.command("list")
@client_command
def list_(json: JsonFlag = False) -> None:
    """List the deployments in progress."""
    deployments = running_deployments(cluster())
    if json:
        render.show_json(deployments)
    else:
        render.show_table(render.deployments_table(deployments), empty="no deployment in progress")


@app.command("watch")
@client_command
def watch(
    deployment_id: Annotated[
        str | None,
        typer.Argument(metavar="[ID]", help="The deployment (default: every one in progress)."),
    ] = None,
    timeout: TimeoutOption = DEFAULT_WAIT_TIMEOUT,
) -> None:
    """Follow deployments to their end with a progress bar; print the apps' final state.

    Exits 0 when they succeed, 4 when one fails (or is stopped) or --timeout passes.
    """
    c = cluster()
    feed = EventFeed(c)  # before looking: nothing that happens from now on is missed
    if deployment_id is None:
        items = running_deployments(c)
        if not items:
            print("no deployment in progress", file=sys.stderr)
            return
    else:
        items = [_find(c, deployment_id)]
    watches = follow(c, feed, [progress.from_deployment(d) for d in items], timeout)
    report(c, watches, timeout)


@app.command("rollback")
@client_command
def rollback(
    deployment_id: DeploymentId,
    wait: WaitFlag = False,
    timeout: TimeoutOption = DEFAULT_WAIT_TIMEOUT,
) -> None:
    """Cancel a deployment and start one that returns its apps to where they were."""
    c = cluster()
    found = str(_find(c, deployment_id)["id"])
    change(
        c,
        lambda: c.marathon_reply("DELETE", f"/v2/deployments/{found}"),
        wait=wait,
        timeout=timeout,
        what=f"deployment {found} rolled back",
    )


@app.command("stop")
@client_command
def stop(deployment_id: DeploymentId) -> None:
    """Stop a deployment where it is, leaving its apps as they are now."""
    c = cluster()
    found = str(_find(c, deployment_id)["id"])
    c.marathon_reply("DELETE", f"/v2/deployments/{found}", query={"force": True})
    print(f"deployment {found} stopped")
