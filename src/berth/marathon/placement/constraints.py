"""Marathon constraints: validation, field values, and the per-offer check (reference 3.6).

A constraint is ``(field, OPERATOR, value)``. The field names what to compare:
``hostname`` / ``@hostname`` the agent's host, ``@region`` / ``@zone`` its fault domain,
anything else an agent attribute, read in the text form Marathon compares (`attribute_text`).
Constraints only ever look at the instances of the *same* app.

Checking an offer against the instances already placed only needs, per field, how many
instances sit on each value and which value came first (for value-less ``CLUSTER``). A
`PlacedIndex` keeps exactly that, so a placement round can add instances one at a time
without rescanning the app's instances for every offer it looks at.

>>> idx = PlacedIndex.of(["rack"], [_Here("a", (Attribute("rack", "TEXT", "r1"),))])
>>> check_constraint(Constraint.parse(("rack", "UNIQUE", None)),
...                  _Here("b", (Attribute("rack", "TEXT", "r1"),)), idx)
'constraint rack UNIQUE: an instance already runs on rack=r1'
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from berth.core.attributes import Attribute

OPERATORS = ("UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "MAX_PER", "UNLIKE", "IS")
# The exact message of the reference (and of Marathon) for an unknown operator.
OPERATOR_MESSAGE = (
    "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS"
)
HOSTNAME_FIELDS = frozenset({"hostname", "@hostname"})
_IS_VALUE = re.compile(r"[a-zA-Z0-9_/.-]*")
_INT_VALUE = re.compile(r"[+-]?\d+")

RawConstraint = tuple[str, str, str | None]


class Located(Protocol):
    """Anything that sits on an agent: an offer or a placed instance."""

    @property
    def hostname(self) -> str: ...
    @property
    def attributes(self) -> tuple[Attribute, ...]: ...
    @property
    def region(self) -> str | None: ...
    @property
    def zone(self) -> str | None: ...


# --------------------------------------------------------------------------- field values


def attribute_text(attribute: Attribute) -> str:
    """The string Marathon compares an attribute as: text as is, scalars rounded to three
    decimals without trailing zeros, ranges as ``[a-b,c-d]``.

    >>> attribute_text(Attribute("level", "SCALAR", 10.0)), attribute_text(
    ...     Attribute("w", "SCALAR", 1.23456)), attribute_text(Attribute("k", "RANGES", ((1, 5),)))
    ('10', '1.235', '[1-5]')
    """
    if attribute.kind == "SCALAR":
        assert isinstance(attribute.value, float)
        return format_number(attribute.value)
    if attribute.kind == "RANGES":
        assert isinstance(attribute.value, tuple)
        return "[" + ",".join(f"{b}-{e}" for b, e in attribute.value) + "]"
    assert isinstance(attribute.value, str)
    return attribute.value


def format_number(value: float) -> str:
    """A quantity at Mesos precision: ``format_number(0.5) == "0.5"``, ``128.0 -> "128"``."""
    milli = math.floor(value * 1000 + 0.5)
    if milli % 1000 == 0:
        return str(milli // 1000)
    return f"{milli / 1000:.3f}".rstrip("0")


def field_value(name: str, where: Located) -> str | None:
    """The value of constraint field ``name`` on an offer or instance; None when missing.

    >>> field_value("@hostname", _Here("node1", ())), field_value("rack", _Here("node1", ()))
    ('node1', None)
    """
    if name in HOSTNAME_FIELDS:
        return where.hostname
    if name == "@region":
        return where.region
    if name == "@zone":
        return where.zone
    for attribute in where.attributes:
        if attribute.name == name:
            return attribute_text(attribute)
    return None


def _scalar_attribute(name: str, where: Located) -> float | None:
    for attribute in where.attributes:
        if attribute.name == name:
            if attribute.kind == "SCALAR":
                assert isinstance(attribute.value, float)
                return attribute.value
            return None
    return None


def _shown(name: str, value: str) -> str:
    """How details name a value: ``host-a``, ``zone eu-1``, ``rack=r1``."""
    if name in HOSTNAME_FIELDS:
        return value
    if name in ("@region", "@zone"):
        return f"{name[1:]} {value}"
    return f"{name}={value}"


def _missing_text(name: str) -> str:
    if name in ("@region", "@zone"):
        return f"agent has no fault domain {name[1:]}"
    return f"agent lacks attribute {name}"


# --------------------------------------------------------------------------- validation


def constraint_problems(constraints: Sequence[object]) -> list[tuple[int, str]]:
    """Every problem with a list of constraints, as ``(index, message)``; empty when valid.

    Accepts the JSON shape (lists of 2 or 3 strings) or ``(field, op, value-or-None)``
    tuples, so the app validator can call it before building anything.

    >>> constraint_problems([["hostname", "UNIQUE"], ["rack", "like"], ["rack", "MAX_PER", "x"]])
    [(1, 'operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, \
UNLIKE or IS'), (2, "MAX_PER needs an integer value (the most instances per value), got 'x'")]
    """
    problems: list[tuple[int, str]] = []
    for index, raw in enumerate(constraints):
        problem = _constraint_problem(raw)
        if problem is not None:
            problems.append((index, problem))
    return problems


def _constraint_problem(raw: object) -> str | None:
    if not isinstance(raw, list | tuple) or len(raw) not in (2, 3):
        return "a constraint is [field, operator] or [field, operator, value]"
    name, operator = raw[0], raw[1]
    raw_value = raw[2] if len(raw) == 3 else None
    if not isinstance(name, str) or not isinstance(operator, str):
        return "field and operator must be strings"
    if raw_value is not None and not isinstance(raw_value, str):
        return "value must be a string"
    value: str | None = raw_value
    if not name:
        return "field must not be empty"
    if operator not in OPERATORS:
        return OPERATOR_MESSAGE
    if operator in _OPTIONAL and not value:
        value = None
    return _value_problem(operator, value)


# Operators for which an empty value means "no value", as in Marathon (hasValue && nonEmpty).
_OPTIONAL = frozenset({"UNIQUE", "CLUSTER", "GROUP_BY"})


def _value_problem(operator: str, value: str | None) -> str | None:
    if operator == "UNIQUE":
        return None if value is None else "Value specified but not used (UNIQUE takes no value)"
    if operator == "GROUP_BY":
        if value is None or (_INT_VALUE.fullmatch(value) and int(value) >= 0):
            return None
        return (
            "GROUP_BY may either have no value or an integer value "
            f"(the number of distinct values to expect), got {value!r}"
        )
    if operator == "MAX_PER":
        if value is not None and _INT_VALUE.fullmatch(value) and int(value) >= 0:
            return None
        shown = "none" if value is None else repr(value)
        return f"MAX_PER needs an integer value (the most instances per value), got {shown}"
    if operator in ("LIKE", "UNLIKE"):
        if value is None:
            return f"{operator} needs a regular expression value"
        try:
            re.compile(value)
        except re.error as exc:
            return f"{value!r} is not a valid regular expression: {exc}"
        return None
    if operator == "IS":
        if value is None:
            return "IS needs a value (text or scalar)"
        if not _IS_VALUE.fullmatch(value):
            return f"IS value must match [a-zA-Z0-9_/.-]*, got {value!r}"
    return None  # CLUSTER: the value is optional and any text


# --------------------------------------------------------------------------- compiled form


@dataclass(frozen=True, slots=True)
class Constraint:
    """A validated constraint, with its regex or number parsed once."""

    field: str
    operator: str
    value: str | None
    pattern: re.Pattern[str] | None = None  # LIKE, UNLIKE
    number: int | None = None  # GROUP_BY (expected distinct values), MAX_PER
    scalar: float | None = None  # IS with a numeric value

    @classmethod
    def parse(cls, raw: Sequence[str | None]) -> Constraint:
        """Compile one constraint; raises `ValueError` if `constraint_problems` would object.

        >>> Constraint.parse(("rack", "GROUP_BY", "3")).number
        3
        """
        problem = _constraint_problem(tuple(raw))
        if problem is not None:
            raise ValueError(f"invalid constraint {list(raw)!r}: {problem}")
        name, operator = str(raw[0]), str(raw[1])
        value = raw[2] if len(raw) == 3 else None
        if operator in _OPTIONAL and not value:
            value = None
        pattern = (
            re.compile(value) if operator in ("LIKE", "UNLIKE") and value is not None else None
        )
        number = int(value) if operator in ("GROUP_BY", "MAX_PER") and value is not None else None
        scalar: float | None = None
        if operator == "IS" and value is not None:
            try:
                scalar = float(value)
            except ValueError:
                scalar = None
            if scalar is not None and not math.isfinite(scalar):
                scalar = None
        return cls(name, operator, value, pattern, number, scalar)

    def text(self) -> str:
        """``rack GROUP_BY 3``: how detail messages name the constraint."""
        return " ".join(p for p in (self.field, self.operator, self.value) if p is not None)


def compile_constraints(raw: Iterable[Sequence[str | None]]) -> tuple[Constraint, ...]:
    return tuple(Constraint.parse(c) for c in raw)


# --------------------------------------------------------------------------- placed index


@dataclass(slots=True)
class _FieldCounts:
    counts: Counter[str] = field(default_factory=Counter)
    first: str | None = None  # value of the first instance that had the field (CLUSTER)


@dataclass(slots=True)
class PlacedIndex:
    """How one app's instances are spread over the values of its constraint fields.

    Mutable on purpose: a placement round owns one per app and `add`s each instance it
    places, so the next check sees it. Only the fields it was built for are tracked.
    """

    fields: dict[str, _FieldCounts]
    total: int = 0

    @classmethod
    def of(cls, names: Iterable[str], placed: Iterable[Located] = ()) -> PlacedIndex:
        index = cls({n: _FieldCounts() for n in names})
        for where in placed:
            index.add(where)
        return index

    def add(self, where: Located) -> None:
        self.total += 1
        for name, counts in self.fields.items():
            value = field_value(name, where)
            if value is not None:
                counts.counts[value] += 1
                if counts.first is None:
                    counts.first = value

    def count(self, name: str, value: str) -> int:
        return self.fields[name].counts[value]

    def counts(self, name: str) -> Counter[str]:
        return self.fields[name].counts


# --------------------------------------------------------------------------- checks


def check_constraint(c: Constraint, offer: Located, placed: PlacedIndex) -> str | None:
    """None when placing one more instance on ``offer`` keeps ``c``; else why not.

    ``placed`` must track ``c.field`` (build it with `PlacedIndex.of`).
    """
    return check_value(c, field_value(c.field, offer), offer, placed)


def check_value(
    c: Constraint, value: str | None, offer: Located, placed: PlacedIndex
) -> str | None:
    """`check_constraint` with the offer's ``field_value(c.field, offer)`` already at hand
    (a round caches it per offer)."""
    if value is None:
        # Reference 3.6: an offer lacking the field fails every operator except UNLIKE.
        return (
            None if c.operator == "UNLIKE" else f"constraint {c.text()}: {_missing_text(c.field)}"
        )
    shown = _shown(c.field, value)
    op = c.operator
    if op == "UNIQUE":
        if placed.count(c.field, value):
            return f"constraint {c.text()}: an instance already runs on {shown}"
        return None
    if op == "CLUSTER":
        target = c.value if c.value is not None else placed.fields[c.field].first
        if target is None or value == target:
            return None
        if c.value is None:
            return f"constraint {c.text()}: instances run on {c.field}={target}, agent has {value}"
        return f"constraint {c.text()}: agent has {shown}"
    if op == "GROUP_BY":
        return _check_group_by(c, value, shown, placed)
    if op == "MAX_PER":
        assert c.number is not None
        have = placed.count(c.field, value)
        if have >= c.number:
            return f"constraint {c.text()}: {shown} already has {have} instance{_s(have)}"
        return None
    if op == "LIKE":
        assert c.pattern is not None
        return (
            None if c.pattern.fullmatch(value) else f"constraint {c.text()}: {shown} does not match"
        )
    if op == "UNLIKE":
        assert c.pattern is not None
        return f"constraint {c.text()}: {shown} matches" if c.pattern.fullmatch(value) else None
    assert op == "IS"
    if value == c.value:
        return None
    # Scalars compare at Mesos precision: IS 0.80 holds on level:0.8, IS 10.0 on level:10.
    number = _scalar_attribute(c.field, offer)
    if (
        number is not None
        and c.scalar is not None
        and math.floor(number * 1000 + 0.5) == math.floor(c.scalar * 1000 + 0.5)
    ):
        return None
    return f"constraint {c.text()}: agent has {shown}"


def _check_group_by(c: Constraint, value: str, shown: str, placed: PlacedIndex) -> str | None:
    # Marathon's rule: a value nobody runs on yet is always fine (we cannot know every
    # value there is, so a fresh one can only even things out). A value already in use is
    # fine only once at least `expected` values are in use and this one is among the
    # least used. The ranker then prefers the least used values among the feasible ones.
    counts = placed.counts(c.field)
    have = counts[value]
    if not have:
        return None
    expected = c.number or 0
    if len(counts) < expected:
        return (
            f"constraint {c.text()}: waiting for {expected} distinct {c.field} values, "
            f"{len(counts)} in use"
        )
    least = min(counts.values())
    if have > least:
        return (
            f"constraint {c.text()}: {shown} has {have} instance{_s(have)}, "
            f"the least used value has {least}"
        )
    return None


def constraint_rejection(
    constraints: Sequence[Constraint | Sequence[str | None]],
    offer: Located,
    placed: Iterable[Located],
) -> str | None:
    """The first constraint that placing one more instance on ``offer`` would break, or None.

    The one-shot form of the check the placement round runs incrementally.

    >>> here = _Here("host-a", ())
    >>> constraint_rejection([("hostname", "UNIQUE", None)], here, [here])
    'constraint hostname UNIQUE: an instance already runs on host-a'
    """
    compiled = [c if isinstance(c, Constraint) else Constraint.parse(c) for c in constraints]
    index = PlacedIndex.of({c.field for c in compiled}, placed)
    for c in compiled:
        problem = check_constraint(c, offer, index)
        if problem is not None:
            return problem
    return None


def _s(n: int) -> str:
    return "" if n == 1 else "s"


@dataclass(frozen=True, slots=True)
class _Here:
    """A bare `Located`, for the examples in this module."""

    hostname: str
    attributes: tuple[Attribute, ...]
    region: str | None = None
    zone: str | None = None
