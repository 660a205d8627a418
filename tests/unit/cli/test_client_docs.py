"""docs/cli.md is what the commands' --help says (the CI check)."""

from __future__ import annotations

from berth.cli.client import GROUPS
from berth.cli.client.docs import COMMAND, DOCS_PATH, render


def test_cli_reference_is_up_to_date() -> None:
    current = DOCS_PATH.read_text() if DOCS_PATH.exists() else ""
    if current != render():
        raise AssertionError(f"docs/cli.md is out of date: run {COMMAND}")


def test_cli_reference_covers_every_command_and_is_plain_text() -> None:
    text = render()
    for group in GROUPS:
        assert f"## berth {group}\n" in text
    for command in (
        "app add", "app list", "app show", "app update", "app scale", "app restart",
        "app versions", "app rollback", "app remove", "task list", "task log", "task kill",
        "deployment list", "deployment watch", "deployment rollback", "deployment stop",
        "node list", "cluster setup", "cluster status",
    ):  # fmt: skip
        assert f"### berth {command}\n" in text, command
    assert "\x1b[" not in text
    assert "╭" not in text
    assert render() == text  # deterministic
