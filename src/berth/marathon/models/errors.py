"""Marathon's error shapes for request bodies, and the JSON body parser.

Four outcomes of reading a body, each its own exception with the exact reply body:

| exception                 | status | message                               | details          |
|---------------------------|--------|---------------------------------------|------------------|
| ``EmptyBodyError``        | 400    | "Please specify data in JSON format"  | a string         |
| ``MalformedJsonError``    | 400    | "Invalid JSON"                        | parser's text    |
| ``InvalidJsonError``      | 422    | "Invalid JSON"                        | [{path, errors}] |
| ``MarathonValidationError`` | 422  | "Object is not valid"                 | [{path, errors}] |

``InvalidJsonError`` errors are Play codes (``error.expected.jsnumber``, ...).

All derive from ``berth.core.errors.BerthError`` (so ``status`` is on the class) and render
themselves with ``body()``. Every problem found is reported, one ``details`` entry per JSON
path in the order first seen; paths use Play's notation (``/container/portMappings(0)/name``,
``/`` for the whole object).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from berth.core.errors import BerthError

INVALID_JSON = "Invalid JSON"
OBJECT_NOT_VALID = "Object is not valid"
EMPTY_BODY = "Please specify data in JSON format"


@dataclass(frozen=True, slots=True)
class Violation:
    """One problem at one JSON path (``/`` for rules about the whole object)."""

    path: str
    message: str

    def under(self, prefix: str) -> Violation:
        """The same problem seen from an enclosing object at ``prefix``.

        >>> Violation("/cpus", "x").under("/apps(0)").path
        '/apps(0)/cpus'
        >>> Violation("/", "x").under("/apps(1)").path
        '/apps(1)'
        """
        if not prefix:
            return self
        return Violation(prefix if self.path == "/" else prefix + self.path, self.message)


def group_details(violations: Iterable[Violation]) -> list[dict[str, Any]]:
    """Marathon's ``details``: one entry per path, paths and messages in first-seen order.

    >>> group_details([Violation("/a", "x"), Violation("/b", "y"), Violation("/a", "z")])
    [{'path': '/a', 'errors': ['x', 'z']}, {'path': '/b', 'errors': ['y']}]
    """
    by_path: dict[str, list[str]] = {}
    for v in violations:
        errors = by_path.setdefault(v.path, [])
        if v.message not in errors:
            errors.append(v.message)
    return [{"path": path, "errors": errors} for path, errors in by_path.items()]


class MarathonError(BerthError):
    """Base of the request-body errors; ``body()`` is the JSON reply."""

    status = 400

    def body(self) -> dict[str, Any]:
        return {"message": self.message}


class _ViolationsError(MarathonError):
    """A 422 listing problems by JSON path (``details``)."""

    status = 422
    MESSAGE = ""

    def __init__(self, violations: Iterable[Violation]) -> None:
        self.violations: tuple[Violation, ...] = tuple(violations)
        super().__init__(self.MESSAGE)

    @property
    def details(self) -> list[dict[str, Any]]:
        return group_details(self.violations)

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "details": self.details}

    def __str__(self) -> str:
        return f"{self.message}: " + "; ".join(f"{v.path}: {v.message}" for v in self.violations)


class MarathonValidationError(_ViolationsError):
    """Semantic problems with a well-formed body (422 "Object is not valid")."""

    MESSAGE = OBJECT_NOT_VALID


class InvalidJsonError(_ViolationsError):
    """JSON of the wrong shape: wrong types, unknown enum values, schema bounds (422).

    Messages are Play's codes (``error.expected.jsnumber``, ``error.path.missing``, ...).
    """

    MESSAGE = INVALID_JSON


class MalformedJsonError(MarathonError):
    """The body is not JSON at all (400, ``details`` is the parser's text)."""

    status = 400

    def __init__(self, parser_text: str) -> None:
        self.parser_text = parser_text
        super().__init__(INVALID_JSON)

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "details": self.parser_text}


class EmptyBodyError(MarathonError):
    """No body where one is required (400)."""

    status = 400

    def __init__(self) -> None:
        super().__init__(EMPTY_BODY)

    def body(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "details": "The request body is empty; send a JSON document "
            "with Content-Type: application/json",
        }


def parse_json_body(raw: bytes) -> object:
    """Decode a request body, raising the Marathon error for empty or non-JSON input.

    >>> parse_json_body(b'{"id": "web"}')
    {'id': 'web'}
    >>> parse_json_body(b"  ")
    Traceback (most recent call last):
    ...
    berth.marathon.models.errors.EmptyBodyError: Please specify data in JSON format
    """
    if not raw.strip():
        raise EmptyBodyError
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise MalformedJsonError(str(e)) from None
