"""App definitions from the command line: a JSON file, standard input, or ``key=value``.

Every problem is a `UsageProblem` (exit 2) that says where it is: the file, and for
invalid JSON the line and column.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from berth.cli.client.errors import UsageProblem


def parse_json(text: str, source: str) -> Any:
    """The JSON in ``text``; ``source`` names it in the error.

    >>> parse_json('{"id": "/a"}', "app.json")
    {'id': '/a'}
    >>> parse_json('{"id": }', "app.json")
    Traceback (most recent call last):
    ...
    berth.cli.client.errors.UsageProblem: app.json is not valid JSON: line 1 column 8: Expecting value
    """  # noqa: E501
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageProblem(
            f"{source} is not valid JSON: line {e.lineno} column {e.colno}: {e.msg}"
        ) from None


def read_definition(name: str) -> dict[str, Any]:
    """The JSON object in file ``name`` (``-``: standard input)."""
    if name == "-":
        if sys.stdin.isatty():
            raise UsageProblem("reading the definition from standard input: pipe JSON into it")
        text, source = sys.stdin.read(), "standard input"
    else:
        path = Path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageProblem(f"no such file: {name}") from None
        except IsADirectoryError:
            raise UsageProblem(f"{name} is a directory: give a JSON file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise UsageProblem(f"cannot read {name}: {e}") from None
        source = name
    if not text.strip():
        raise UsageProblem(f"{source} is empty: expected a JSON object")
    data = parse_json(text, source)
    if not isinstance(data, dict):
        raise UsageProblem(f"{source} holds a JSON {type(data).__name__}: expected an object")
    return data


def _value(text: str) -> Any:
    """A ``key=value`` value: JSON when it parses as JSON, else the string itself.

    >>> _value("3"), _value("0.5"), _value("true"), _value("sleep 10"), _value('{"A":"b"}')
    (3, 0.5, True, 'sleep 10', {'A': 'b'})
    """
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """``key=value`` pairs as a (partial) app definition; dots in keys nest.

    >>> parse_assignments(["instances=2", "cmd=sleep 100", "upgradeStrategy.maximumOverCapacity=0"])
    {'instances': 2, 'cmd': 'sleep 100', 'upgradeStrategy': {'maximumOverCapacity': 0}}
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageProblem(
                f"{item!r} is not key=value: give a file, '-' or pairs like instances=3"
            )
        parts = key.strip().split(".")
        if any(not p for p in parts):
            raise UsageProblem(f"{key!r} is not a field name")
        where = out
        for part in parts[:-1]:
            nested = where.setdefault(part, {})
            if not isinstance(nested, dict):
                raise UsageProblem(f"{key!r} sets a field inside {part!r}, which has a value")
            where = nested
        where[parts[-1]] = _value(raw)
    return out


def update_body(args: list[str]) -> dict[str, Any]:
    """What ``app update`` sends: a file (or ``-``) when given one, else the pairs."""
    if len(args) == 1 and (args[0] == "-" or "=" not in args[0]):
        return read_definition(args[0])
    return parse_assignments(args)
