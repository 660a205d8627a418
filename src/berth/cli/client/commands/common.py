"""Options and helpers shared by the command groups."""

from __future__ import annotations

from typing import Annotated

import typer

from berth.cli.client.errors import UsageProblem
from berth.cli.client.wait import DEFAULT_TIMEOUT

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]
WaitFlag = Annotated[
    bool,
    typer.Option(
        "--wait",
        "-w",
        help="Follow the deployment to its end with a progress bar, then print the final "
        "state (exit 4 if it fails or --timeout passes).",
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.0,
        metavar="SECONDS",
        help="Seconds --wait waits before giving up (exit 4).",
    ),
]
ForceFlag = Annotated[
    bool,
    typer.Option(
        "--force", help="Go ahead even if a running deployment involves the app (replacing it)."
    ),
]
DEFAULT_WAIT_TIMEOUT = DEFAULT_TIMEOUT


def app_path(text: str) -> str:
    """An app id as marathon's paths want it: absolute, without a trailing slash.

    >>> app_path("hello/web/"), app_path("/web")
    ('/hello/web', '/web')
    """
    path = "/" + text.strip().strip("/")
    if path == "/":
        raise UsageProblem("an app id cannot be empty: give one like /hello/web")
    return path


def complete_app_id(incomplete: str) -> list[str]:
    """Shell completion of app ids: asks the cluster, briefly; silent on any failure."""
    try:
        from berth.cli.client.context import cluster
        from berth.cli.client.http import Http, build_url

        c = cluster()
        data = Http(timeout=1.0).json("GET", build_url(c.endpoints.marathon, "/v2/apps"))
        ids = [str(a.get("id")) for a in data.get("apps", []) if isinstance(a, dict)]
    except Exception:  # completion must never print an error into the user's prompt
        return []
    wanted = incomplete if incomplete.startswith("/") else "/" + incomplete
    return sorted(i for i in ids if i.startswith((wanted, incomplete)))
