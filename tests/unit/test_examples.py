"""Every example definition parses and validates as Marathon would accept it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from berth.marathon.models.group import parse_group_update, validate_group_update
from berth.marathon.models.parse import parse_app
from berth.marathon.models.validate import validate_app

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.json"))


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_valid(path: Path) -> None:
    body = json.loads(path.read_text())
    if "apps" in body or "groups" in body:
        assert validate_group_update(parse_group_update(body)) == []
    else:
        assert validate_app(parse_app(body)) == []
