"""Reading untyped JSON into typed values, collecting Play-style errors on the way.

A ``Cursor`` points at one place in a document (its Play path and its value, or ``MISSING``).
Its readers return the typed value, or None when the value is absent (``null`` counts as
absent, as Play's ``readNullable`` has it) or wrong; a wrong value also records Play's code
for that path in the shared ``Reader``. Reading never raises, so one pass finds every shape
problem in a body; ``Reader.raise_if_any`` then raises them all as one ``InvalidJsonError``.

>>> reader = Reader()
>>> root = Cursor(reader, "", {"cpus": "1", "mem": 64})
>>> root.get("cpus").number(), root.get("mem").number(), root.get("id").string(required=True)
(None, 64.0, None)
>>> [(v.path, v.message) for v in reader.play_errors]
[('/cpus', 'error.expected.jsnumber'), ('/id', 'error.path.missing')]
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from berth.marathon.models.errors import (
    InvalidJsonError,
    MarathonValidationError,
    Violation,
)
from berth.marathon.models.frozenmap import FrozenMap
from berth.marathon.models.timestamps import parse_timestamp

E = TypeVar("E", bound=enum.Enum)
T = TypeVar("T")

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


@dataclass(slots=True)
class Reader:
    """The problems found while reading one body.

    ``play_errors`` are shape problems (422 "Invalid JSON"); ``violations`` are semantic
    problems noticed while reading that the typed model cannot carry (422 "Object is not
    valid"), such as a constraint with four fields.
    """

    play_errors: list[Violation] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)

    def error(self, path: str, code: str) -> None:
        self.play_errors.append(Violation(path or "/", code))

    def violation(self, path: str, message: str) -> None:
        self.violations.append(Violation(path or "/", message))

    def raise_if_any(self) -> None:
        """Raise shape errors first (as Marathon does), then semantic ones."""
        if self.play_errors:
            raise InvalidJsonError(self.play_errors)
        if self.violations:
            raise MarathonValidationError(self.violations)


@dataclass(slots=True)
class Cursor:
    """One place in a JSON document: its Play path and the value found there."""

    reader: Reader
    path: str
    value: object

    @property
    def present(self) -> bool:
        return self.value is not MISSING and self.value is not None

    def get(self, key: str) -> Cursor:
        """The member ``key`` (``MISSING`` when this is not an object or lacks it)."""
        value = self.value.get(key, MISSING) if isinstance(self.value, dict) else MISSING
        return Cursor(self.reader, f"{self.path}/{key}", value)

    def has(self, key: str) -> bool:
        """True when this is an object whose ``key`` is present and not null."""
        return isinstance(self.value, dict) and self.value.get(key) is not None

    def _absent(self, required: bool, type_code: str) -> bool:
        if self.present:
            return False
        if required:
            # Play: a missing member is "path.missing", an explicit null a type error.
            missing = self.value is MISSING
            self.reader.error(self.path, "error.path.missing" if missing else type_code)
        return True

    def _fail(self, code: str) -> None:
        self.reader.error(self.path, code)

    def object(self, *, required: bool = False) -> dict[str, Cursor] | None:
        """The members of an object, in document order."""
        if self._absent(required, "error.expected.jsobject"):
            return None
        if not isinstance(self.value, dict):
            self._fail("error.expected.jsobject")
            return None
        return {k: Cursor(self.reader, f"{self.path}/{k}", v) for k, v in self.value.items()}

    def is_object(self) -> bool:
        """Check (and report) that a present value is an object."""
        if self._absent(False, "error.expected.jsobject"):
            return False
        if not isinstance(self.value, dict):
            self._fail("error.expected.jsobject")
            return False
        return True

    def array(self, *, required: bool = False) -> list[Cursor] | None:
        """The elements of an array."""
        if self._absent(required, "error.expected.jsarray"):
            return None
        if not isinstance(self.value, list):
            self._fail("error.expected.jsarray")
            return None
        return [Cursor(self.reader, f"{self.path}({i})", v) for i, v in enumerate(self.value)]

    def string(
        self,
        *,
        required: bool = False,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: re.Pattern[str] | None = None,
    ) -> str | None:
        if self._absent(required, "error.expected.jsstring"):
            return None
        value = self.value
        if not isinstance(value, str):
            self._fail("error.expected.jsstring")
            return None
        if min_length is not None and len(value) < min_length:
            self._fail("error.minLength")
            return None
        if max_length is not None and len(value) > max_length:
            self._fail("error.maxLength")
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self._fail("error.pattern")
            return None
        return value

    def number(
        self,
        *,
        required: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float | None:
        if self._absent(required, "error.expected.jsnumber"):
            return None
        value = self.value
        # bool is an int in Python, never a number in JSON.
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._fail("error.expected.jsnumber")
            return None
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any double
            number = math.inf
        if not math.isfinite(number):
            self._fail("error.expected.jsnumber")
            return None
        return self._bounded(number, minimum, maximum)

    def integer(
        self,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
        bounds: tuple[int, int] = INT32,
    ) -> int | None:
        """An integral JSON number (``2.0`` counts, as in Play) within ``bounds``."""
        if self._absent(required, "error.expected.jsnumber"):
            return None
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._fail("error.expected.jsnumber")
            return None
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            self._fail("error.expected.int" if bounds == INT32 else "error.expected.long")
            return None
        number = int(value)
        if not bounds[0] <= number <= bounds[1]:
            self._fail("error.expected.int" if bounds == INT32 else "error.expected.long")
            return None
        bounded = self._bounded(number, minimum, maximum)
        return None if bounded is None else int(bounded)

    def _bounded(self, number: T, minimum: float | None, maximum: float | None) -> T | None:
        if minimum is not None and number < minimum:  # type: ignore[operator]
            self._fail("error.min")
            return None
        if maximum is not None and number > maximum:  # type: ignore[operator]
            self._fail("error.max")
            return None
        return number

    def boolean(self, *, required: bool = False) -> bool | None:
        if self._absent(required, "error.expected.jsboolean"):
            return None
        if not isinstance(self.value, bool):
            self._fail("error.expected.jsboolean")
            return None
        return self.value

    def enum(self, kind: type[E], *, required: bool = False) -> E | None:
        """An enum member by value, matched case-insensitively as Marathon does."""
        text = self.string(required=required)
        if text is None:
            return None
        lowered = text.lower()
        for member in kind:
            if str(member.value).lower() == lowered:
                return member
        self._fail("error.unknown.enum.literal")
        return None

    def timestamp(self, *, required: bool = False) -> datetime | None:
        text = self.string(required=required)
        if text is None:
            return None
        try:
            return parse_timestamp(text)
        except ValueError:
            self._fail("error.expected.date.isoformat")
            return None

    def list_of(self, read: Callable[[Cursor], T | None]) -> tuple[T, ...] | None:
        """An array whose elements are read with ``read``; bad elements are dropped."""
        elements = self.array()
        if elements is None:
            return None
        out: list[T] = []
        for element in elements:
            item = read(element)
            if item is not None:
                out.append(item)
        return tuple(out)

    def strings(
        self,
        *,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: re.Pattern[str] | None = None,
    ) -> tuple[str, ...] | None:
        """An array of strings, each checked as ``string`` would."""
        return self.list_of(
            lambda c: c.string(
                required=True, min_length=min_length, max_length=max_length, pattern=pattern
            )
        )

    def string_map(self) -> FrozenMap[str, str] | None:
        """An object whose values are all strings (labels, options)."""
        members = self.object()
        if members is None:
            return None
        out: dict[str, str] = {}
        for key, member in members.items():
            text = member.string(required=True)
            if text is not None:
                out[key] = text
        return FrozenMap(out)
