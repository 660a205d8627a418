"""The client commands (``berth app ...``, ``berth task ...``): talk to a running cluster.

Layout: ``config`` (which cluster), ``http`` (a small synchronous client), ``errors``
(one-line messages and exit codes), ``context`` (the shell every command runs in),
``sse`` + ``progress`` + ``wait`` (following deployments), ``logs`` (task logs),
``render`` (tables and JSON), ``appfile`` (definitions from files and key=value), and one
module per command group in ``commands``. ``docs`` renders docs/cli.md from the help.

Exit codes (``errors.ExitCode``): 0 done; 1 the server refused or the operation failed;
2 bad usage; 3 the cluster cannot be reached; 4 ``--wait`` ended in failure or timeout.
"""

from __future__ import annotations

import typer

GROUPS = ("cluster", "app", "task", "deployment", "node")


def register(app: typer.Typer) -> None:
    """Add the client command groups to the ``berth`` application."""
    from berth.cli.client.commands import apps, cluster, deployments, nodes, tasks

    app.add_typer(cluster.app, name="cluster")
    app.add_typer(apps.app, name="app")
    app.add_typer(tasks.app, name="task")
    app.add_typer(deployments.app, name="deployment")
    app.add_typer(nodes.app, name="node")
