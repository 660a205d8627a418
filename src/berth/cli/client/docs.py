"""docs/cli.md, rendered from the ``--help`` of every client command.

``python -m berth.cli.client.docs`` rewrites the file; ``--check`` exits 1 when it is out
of date (the unit test does the same). The help is click's plain formatting at a fixed
width, so the output does not depend on the terminal, colours or rich.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from berth.cli.client import GROUPS

WIDTH = 100
DOCS_PATH = Path(__file__).resolve().parents[4] / "docs" / "cli.md"
COMMAND = "uv run python -m berth.cli.client.docs"

_HEADER = f"""# The `berth` client commands

<!-- Generated from the commands' --help by `{COMMAND}`; do not edit by hand. -->

The client commands talk to a running cluster. They find it from `--url`, else
`BERTH_URL`, else the URL saved by `berth cluster setup URL`
(`$XDG_CONFIG_HOME/berth/config.toml`), else `http://127.0.0.1:8000` (the gateway started
by `berth up`). Without a gateway, `--marathon-url` and `--master-url` (or
`BERTH_MARATHON_URL`, `BERTH_MASTER_URL`) name marathon and the master directly.

Every listing (and `app show`) takes `--json`; every change takes `--wait`, which follows
the deployment with a progress bar and ends printing the apps' final state
(`/web: 3/3 running`).

| exit code | meaning |
|---|---|
| 0 | done |
| 1 | the server refused, or the operation failed (its message is shown) |
| 2 | bad usage: unknown command or flag, missing file, invalid JSON |
| 3 | the cluster cannot be reached |
| 4 | `--wait` ended badly: the deployment failed, or `--timeout` passed first |

Shell completion: `berth --install-completion` (or `--show-completion` to see the
script); app ids complete from the cluster.
"""


def _help(command: Any, ctx: typer.Context) -> str:
    command.rich_markup_mode = None  # click's plain formatter: no boxes, no colour
    text: str = command.get_help(ctx)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip()


def render() -> str:
    """The whole of docs/cli.md."""
    from berth.cli.main import app as root_app

    root = typer.main.get_command(root_app)
    root_ctx = typer.Context(root, info_name="berth", terminal_width=WIDTH, max_content_width=WIDTH)
    commands: dict[str, Any] = getattr(root, "commands", {})
    parts = [_HEADER]
    for name in GROUPS:
        group = commands[name]
        group_ctx = typer.Context(group, info_name=name, parent=root_ctx)
        parts.append(f"## berth {name}\n\n```text\n{_help(group, group_ctx)}\n```\n")
        for sub_name, sub in getattr(group, "commands", {}).items():
            sub_ctx = typer.Context(sub, info_name=sub_name, parent=group_ctx)
            parts.append(f"### berth {name} {sub_name}\n\n```text\n{_help(sub, sub_ctx)}\n```\n")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = DOCS_PATH.read_text() if DOCS_PATH.exists() else ""
        if current != text:
            print(f"docs/cli.md is out of date: run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    DOCS_PATH.write_text(text)
    print(f"wrote {DOCS_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
