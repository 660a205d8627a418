"""``berth node ...``: the cluster's agents, as the master sees them."""

from __future__ import annotations

import typer

from berth.cli.client import render
from berth.cli.client.commands.common import JsonFlag
from berth.cli.client.context import client_command, cluster, group_options

app = typer.Typer(
    callback=group_options,
    name="node",
    help="See the cluster's agents.",
    no_args_is_help=True,
)


@app.command("list")
@client_command
def list_(json: JsonFlag = False) -> None:
    """List the agents: address, state, resources used/total, attributes."""
    data = cluster().master("/master/slaves")
    agents = data.get("slaves", []) if isinstance(data, dict) else []
    agents = [a for a in agents if isinstance(a, dict)]
    if json:
        render.show_json(agents)
    else:
        render.show_table(render.nodes_table(agents), empty="no agents registered")
