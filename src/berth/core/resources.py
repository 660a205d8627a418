"""The one resource model: named scalars, ranges and sets, each optionally reserved to a role.

A `Resources` value is an immutable bag keyed by ``(name, reservation role)``; role ``"*"``
means unreserved. Scalars are fixed point with three decimals (Mesos rounds to 0.001), held
as integer milli-units so that adding and subtracting never drifts. Ranges are inclusive
``(begin, end)`` pairs kept sorted and coalesced; sets are frozensets of strings. Zero
scalars and empty ranges or sets are never stored, so equality is equality of meaning.

>>> r = Resources.parse_text("cpus:4;mem:2048;ports:[31000-31009, 31010-32000]")
>>> str(r)
'cpus:4;mem:2048;ports:[31000-32000]'
>>> str(r - Resources.of(cpus=0.5, ports=[(31005, 31005)]))
'cpus:3.5;mem:2048;ports:[31000-31004, 31006-32000]'

Agent attributes (``rack:r1;level:10``) live here too, because they share the text syntax
and the JSON shapes of resources. Everything that reads input raises `InvalidInput` with a
path and a message that says what to fix; nothing here raises anything else on bad input.

Not modelled (accepted on input, then treated as plain resources): ``disk`` sources and
persistence, ``revocable``, ``shared``, ``provider_id``. Pre-refinement ``reservation``
info is ignored; dynamic reservations come back out as STATIC ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from berth.core.errors import InvalidInput

Range = tuple[int, int]
RangeSet = tuple[Range, ...]
_Key = tuple[str, str]  # (name, reservation role)

UNRESERVED = "*"
# Mesos ranges are uint64.
MAX_RANGE_BOUND = 2**64 - 1
# Far beyond any real machine, and small enough that milli-units stay exact in a float.
MAX_SCALAR = 1e15

# Well-known resource names have a fixed type; a client sending `cpus` as RANGES is wrong.
_KNOWN_TYPES: dict[str, str] = {
    "cpus": "SCALAR",
    "mem": "SCALAR",
    "disk": "SCALAR",
    "gpus": "SCALAR",
    "ports": "RANGES",
}
# Always present in the state-JSON summary, in this order.
_SUMMARY_SCALARS = ("cpus", "gpus", "mem", "disk")

_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_TEXT_NAME = re.compile(r"^([^\s():;\[\]{}]+)\s*(?:\((.*)\))?$")
_ROLE_BAD_CHARS = re.compile(r"[\x00-\x20\x7f]")


# --------------------------------------------------------------------------- roles


def validate_role(name: str) -> None:
    """Raise `InvalidInput` unless ``name`` is a valid Mesos role name.

    ``*`` is the unreserved role. Otherwise: not empty, not ``.`` or ``..``, ``/`` only as a
    hierarchy separator (no leading, trailing or double slash), no component that is ``*``,
    ``.``, ``..`` or starts with ``-``, no whitespace or control characters.

    >>> validate_role("eng/web")
    >>> validate_role("eng//web")
    Traceback (most recent call last):
    ...
    berth.core.errors.InvalidInput: role 'eng//web': empty component (double slash)
    """
    if name in _VALID_ROLES:
        return
    if not isinstance(name, str):
        raise InvalidInput(f"role must be a string, got {type(name).__name__}")
    problem = _role_problem(name)
    if problem:
        raise InvalidInput(f"role {name!r}: {problem}")
    if len(_VALID_ROLES) < 10_000:  # a cache, not a leak
        _VALID_ROLES.add(name)


_VALID_ROLES: set[str] = {UNRESERVED}


def _role_problem(name: str) -> str | None:
    if not name:
        return "must not be empty"
    if _ROLE_BAD_CHARS.search(name):
        return "must not contain whitespace or control characters"
    if name.startswith("/") or name.endswith("/"):
        return "must not start or end with '/'"
    for component in name.split("/"):
        if not component:
            return "empty component (double slash)"
        if component in (".", ".."):
            return f"component {component!r} is not allowed"
        if component == "*":
            return "'*' is only valid as the whole role"
        if component.startswith("-"):
            return f"component {component!r} must not start with '-'"
    return None


def role_ancestors(role: str) -> tuple[str, ...]:
    """Strict ancestors of a hierarchical role, nearest last: ``"a/b/c"`` -> ``("a", "a/b")``."""
    if role == UNRESERVED or "/" not in role:
        return ()
    parts = role.split("/")
    return tuple("/".join(parts[:i]) for i in range(1, len(parts)))


# --------------------------------------------------------------------------- range math


def _coalesce(ranges: Iterable[Range]) -> RangeSet:
    """Sort and merge overlapping or adjacent ranges: [(3,4),(1,2)] -> ((1,4),)."""
    out: list[Range] = []
    for begin, end in sorted(ranges):
        if out and begin <= out[-1][1] + 1:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((begin, end))
    return tuple(out)


def _ranges_difference(a: RangeSet, b: RangeSet) -> RangeSet:
    """Elements of ``a`` not in ``b``; both coalesced, so one sweep suffices."""
    out: list[Range] = []
    j = 0
    for begin, end in a:
        while j < len(b) and b[j][1] < begin:
            j += 1
        k = j
        cur = begin
        while k < len(b) and b[k][0] <= end:
            if b[k][0] > cur:
                out.append((cur, b[k][0] - 1))
            cur = max(cur, b[k][1] + 1)
            k += 1
        if cur <= end:
            out.append((cur, end))
    return tuple(out)


def _ranges_contain(a: RangeSet, b: RangeSet) -> bool:
    """Whether every element of ``b`` is in ``a`` (both coalesced)."""
    i = 0
    for begin, end in b:
        while i < len(a) and a[i][1] < begin:
            i += 1
        if i == len(a) or a[i][0] > begin or a[i][1] < end:
            return False
    return True


def _ranges_text(ranges: RangeSet) -> str:
    return "[" + ", ".join(f"{b}-{e}" for b, e in ranges) + "]"


def _ranges_count(ranges: RangeSet) -> int:
    return sum(e - b + 1 for b, e in ranges)


# --------------------------------------------------------------------------- scalars


def _to_milli(value: float) -> int:
    # Round half up like Mesos (llround on non-negative values); Python's round() would
    # round 0.0005 down to 0 (banker's rounding).
    return math.floor(value * 1000 + 0.5)


def _milli_text(milli: int) -> str:
    if milli % 1000 == 0:
        return str(milli // 1000)
    return f"{milli / 1000:.3f}".rstrip("0")


def _scalar_problem(value: float) -> str | None:
    """What is wrong with a scalar quantity, or None."""
    if math.isnan(value):
        return "NaN is not a valid quantity"
    if math.isinf(value):
        return "quantity must be finite"
    if value < 0:
        return f"quantity must not be negative, got {value:g}"
    if value > MAX_SCALAR:
        return f"quantity {value:g} is too large (at most {MAX_SCALAR:g})"
    return None


def _check_scalar(value: float, where: str) -> float:
    problem = _scalar_problem(value)
    if problem:
        raise InvalidInput(f"{where}: {problem}")
    return value


# --------------------------------------------------------------------------- Resources


def _new(
    scalars: dict[_Key, int], ranges: dict[_Key, RangeSet], sets: dict[_Key, frozenset[str]]
) -> Resources:
    # Fast path around the dataclass __init__: arithmetic builds many of these.
    obj = object.__new__(Resources)
    object.__setattr__(obj, "_scalars", scalars)
    object.__setattr__(obj, "_ranges", ranges)
    object.__setattr__(obj, "_sets", sets)
    return obj


@dataclass(frozen=True, slots=True, repr=False)
class Resources:
    """An immutable bag of resources keyed by (name, reservation role). See the module doc.

    The three dicts are private and never mutated after construction; build values with
    the class methods (`of`, `scalar`, `ranges`, `set`, `parse_text`, `from_mesos`).
    """

    _scalars: dict[_Key, int] = field(default_factory=dict)  # milli-units, all > 0
    _ranges: dict[_Key, RangeSet] = field(default_factory=dict)  # coalesced, non-empty
    _sets: dict[_Key, frozenset[str]] = field(default_factory=dict)  # non-empty

    # ----------------------------------------------------------------- construction

    @classmethod
    def empty(cls) -> Resources:
        return _EMPTY

    @classmethod
    def of(
        cls,
        *,
        cpus: float = 0,
        mem: float = 0,
        disk: float = 0,
        gpus: float = 0,
        ports: Iterable[Range] = (),
        role: str = UNRESERVED,
    ) -> Resources:
        """Convenience constructor for the well-known kinds.

        >>> str(Resources.of(cpus=1.5, mem=128, ports=[(31000, 31001)]))
        'cpus:1.5;mem:128;ports:[31000-31001]'
        """
        validate_role(role)
        scalars: dict[_Key, int] = {}
        for name, value in (("cpus", cpus), ("mem", mem), ("disk", disk), ("gpus", gpus)):
            milli = _to_milli(_check_scalar(float(value), name))
            if milli:
                scalars[(name, role)] = milli
        coalesced = _coalesce(_checked_ranges(ports, "ports"))
        return _new(scalars, {("ports", role): coalesced} if coalesced else {}, {})

    @classmethod
    def scalar(cls, name: str, value: float, role: str = UNRESERVED) -> Resources:
        """``Resources.scalar("cpus", 0.25)``; values round to 0.001, zero is empty."""
        _check_name(name, "SCALAR")
        validate_role(role)
        milli = _to_milli(_check_scalar(float(value), name))
        return _new({(name, role): milli}, {}, {}) if milli else _EMPTY

    @classmethod
    def ranges(cls, name: str, ranges: Iterable[Range], role: str = UNRESERVED) -> Resources:
        """``Resources.ranges("ports", [(31000, 31005)])``; ranges are coalesced."""
        _check_name(name, "RANGES")
        validate_role(role)
        coalesced = _coalesce(_checked_ranges(ranges, name))
        return _new({}, {(name, role): coalesced}, {}) if coalesced else _EMPTY

    @classmethod
    def set(cls, name: str, items: Iterable[str], role: str = UNRESERVED) -> Resources:
        """``Resources.set("bugs", ["a", "b"])``."""
        _check_name(name, "SET")
        validate_role(role)
        frozen = frozenset(items)
        for item in frozen:
            if not isinstance(item, str) or not item:
                raise InvalidInput(f"{name}: set items must be non-empty strings")
        return _new({}, {}, {(name, role): frozen}) if frozen else _EMPTY

    @classmethod
    def parse_text(cls, text: str, default_role: str = UNRESERVED) -> Resources:
        """Parse the agent ``--resources`` syntax, or a Mesos JSON array (text starting with '[').

        >>> str(Resources.parse_text("cpus:2; mem:512; bugs(eng):{b,a}; cpus:0.5"))
        'bugs(eng):{a,b};cpus:2.5;mem:512'
        >>> Resources.parse_text("cpus:abc")
        Traceback (most recent call last):
        ...
        berth.core.errors.InvalidInput: resources: 'cpus:abc': 'abc' is not a number
        """
        if not isinstance(text, str):
            raise InvalidInput("expected text", path="resources")
        validate_role(default_role)
        if text.lstrip().startswith("["):
            try:
                items = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(f"not valid JSON: {exc}", path="resources") from None
            return cls.from_mesos(items)
        total = _EMPTY
        for raw in text.split(";"):
            token = raw.strip()
            if token:
                total = total + _parse_text_entry(token, default_role)
        return total

    @classmethod
    def from_mesos(cls, items: object, path: str = "resources") -> Resources:
        """Parse a Mesos JSON list of Resource objects, strictly. Entries with the same
        (name, role) add up. Raises `InvalidInput` with a JSON path on any problem.

        >>> str(Resources.from_mesos([{"name": "cpus", "type": "SCALAR",
        ...                            "scalar": {"value": "1.5"}, "role": "eng"}]))
        'cpus(eng):1.5'
        """
        if not isinstance(items, list | tuple):
            raise InvalidInput("expected a list of resources", path=path)
        scalars: dict[_Key, int] = {}
        ranges: dict[_Key, list[Range]] = {}
        sets: dict[_Key, set[str]] = {}
        for i, item in enumerate(items):
            _parse_mesos_entry(item, f"{path}[{i}]", scalars, ranges, sets)
        return _new(
            {k: v for k, v in scalars.items() if v},
            {k: c for k, v in ranges.items() if (c := _coalesce(v))},
            {k: frozenset(v) for k, v in sets.items() if v},
        )

    # ----------------------------------------------------------------- rendering

    def to_mesos(self, allocation_role: str | None = None) -> list[dict[str, Any]]:
        """Mesos JSON form, entries sorted by (name, role).

        >>> Resources.scalar("cpus", 1, role="eng").to_mesos("eng")  # doctest: +ELLIPSIS
        [{'name': 'cpus', 'type': 'SCALAR', 'scalar': {'value': 1.0}, 'role': 'eng', ...}]
        """
        out: list[tuple[tuple[str, str, int], dict[str, Any]]] = []
        for (name, role), milli in self._scalars.items():
            entry: dict[str, Any] = {
                "name": name,
                "type": "SCALAR",
                "scalar": {"value": round(milli / 1000, 3)},
            }
            out.append(((name, role, 0), entry))
        for (name, role), rs in self._ranges.items():
            rng = [{"begin": b, "end": e} for b, e in rs]
            out.append(
                ((name, role, 1), {"name": name, "type": "RANGES", "ranges": {"range": rng}})
            )
        for (name, role), items in self._sets.items():
            entry = {"name": name, "type": "SET", "set": {"item": sorted(items)}}
            out.append(((name, role, 2), entry))
        out.sort(key=lambda pair: pair[0])
        result = []
        for (_, role, _), entry in out:
            entry["role"] = role
            if role != UNRESERVED:
                entry["reservations"] = [{"type": "STATIC", "role": role}]
            if allocation_role is not None:
                entry["allocation_info"] = {"role": allocation_role}
            result.append(entry)
        return result

    def summary(self) -> dict[str, float | str]:
        """State-JSON form: scalars summed over roles, ranges and sets as text.

        >>> Resources.parse_text("cpus:4;mem:6844;ports:[31000-32000]").summary()
        {'cpus': 4.0, 'gpus': 0.0, 'mem': 6844.0, 'disk': 0.0, 'ports': '[31000-32000]'}
        """
        out: dict[str, float | str] = {}
        totals = self.milli_scalars()
        for name in _SUMMARY_SCALARS:
            out[name] = totals.pop(name, 0) / 1000
        for name in sorted(totals):
            out[name] = totals[name] / 1000
        for name in sorted({n for n, _ in self._ranges}):
            out[name] = _ranges_text(self.ranges_of(name))
        for name in sorted({n for n, _ in self._sets}):
            out[name] = "{" + ", ".join(sorted(self.set_of(name))) + "}"
        return out

    def __str__(self) -> str:
        """The ``--resources`` text form; `parse_text` reads it back to an equal value."""
        parts: list[tuple[str, str, str]] = []
        for (name, role), milli in self._scalars.items():
            parts.append((name, role, _milli_text(milli)))
        for (name, role), rs in self._ranges.items():
            parts.append((name, role, _ranges_text(rs)))
        for (name, role), items in self._sets.items():
            parts.append((name, role, "{" + ",".join(sorted(items)) + "}"))
        parts.sort()
        return ";".join(
            f"{name}:{value}" if role == UNRESERVED else f"{name}({role}):{value}"
            for name, role, value in parts
        )

    def __repr__(self) -> str:
        return f"Resources({str(self)!r})"

    def __hash__(self) -> int:
        return hash(
            (
                frozenset(self._scalars.items()),
                frozenset(self._ranges.items()),
                frozenset(self._sets.items()),
            )
        )

    # ----------------------------------------------------------------- arithmetic

    def __add__(self, other: Resources) -> Resources:
        if not (other._scalars or other._ranges or other._sets):
            return self
        if not (self._scalars or self._ranges or self._sets):
            return other
        scalars = dict(self._scalars)
        for k, v in other._scalars.items():
            scalars[k] = scalars.get(k, 0) + v
        ranges = self._ranges
        if other._ranges:
            ranges = dict(ranges)
            for k, rs in other._ranges.items():
                mine = ranges.get(k)
                ranges[k] = _coalesce(mine + rs) if mine else rs
        sets = self._sets
        if other._sets:
            sets = dict(sets)
            for k, items in other._sets.items():
                mine_set = sets.get(k)
                sets[k] = mine_set | items if mine_set else items
        return _new(scalars, ranges, sets)

    def __sub__(self, other: Resources) -> Resources:
        """Saturating difference: scalars floor at zero, ranges split, sets lose items."""
        if not (other._scalars or other._ranges or other._sets):
            return self
        scalars = self._scalars
        if other._scalars:
            scalars = dict(scalars)
            for k, v in other._scalars.items():
                mine = scalars.get(k)
                if mine is not None:
                    if mine > v:
                        scalars[k] = mine - v
                    else:
                        del scalars[k]
        ranges = self._ranges
        if other._ranges:
            ranges = dict(ranges)
            for k, rs in other._ranges.items():
                mine_r = ranges.get(k)
                if mine_r is not None:
                    left = _ranges_difference(mine_r, rs)
                    if left:
                        ranges[k] = left
                    else:
                        del ranges[k]
        sets = self._sets
        if other._sets:
            sets = dict(sets)
            for k, items in other._sets.items():
                mine_s = sets.get(k)
                if mine_s is not None:
                    left_s = mine_s - items
                    if left_s:
                        sets[k] = left_s
                    else:
                        del sets[k]
        return _new(scalars, ranges, sets)

    def contains(self, other: Resources) -> bool:
        """Whether ``other`` fits in ``self``, key by key (same name AND same role).

        >>> Resources.of(cpus=2).contains(Resources.of(cpus=1.5))
        True
        >>> Resources.of(cpus=2).contains(Resources.of(cpus=1, role="eng"))
        False
        """
        mine_s = self._scalars
        for k, v in other._scalars.items():
            if mine_s.get(k, 0) < v:
                return False
        for k, rs in other._ranges.items():
            mine_r = self._ranges.get(k)
            if mine_r is None or not _ranges_contain(mine_r, rs):
                return False
        for k, items in other._sets.items():
            mine_set = self._sets.get(k)
            if mine_set is None or not items <= mine_set:
                return False
        return True

    def __bool__(self) -> bool:
        return bool(self._scalars or self._ranges or self._sets)

    def is_empty(self) -> bool:
        return not (self._scalars or self._ranges or self._sets)

    # ----------------------------------------------------------------- queries

    def scalar_value(self, name: str) -> float:
        """Scalar quantity of ``name`` summed over roles; 0.0 when absent."""
        return sum(v for (n, _), v in self._scalars.items() if n == name) / 1000

    def scalars(self) -> dict[str, float]:
        """Scalar quantities by name, summed over roles: ``{"cpus": 4.0, "mem": 2048.0}``."""
        return {name: milli / 1000 for name, milli in self.milli_scalars().items()}

    def milli_scalars(self) -> dict[str, int]:
        """Like `scalars` but in exact integer milli-units (what the DRF sorter sums)."""
        out: dict[str, int] = {}
        for (name, _), milli in self._scalars.items():
            out[name] = out.get(name, 0) + milli
        return out

    def ranges_of(self, name: str) -> RangeSet:
        """Ranges of ``name`` over all roles, coalesced."""
        found = [rs for (n, _), rs in self._ranges.items() if n == name]
        if len(found) == 1:
            return found[0]
        return _coalesce(r for rs in found for r in rs)

    def set_of(self, name: str) -> frozenset[str]:
        """Items of set ``name`` over all roles."""
        return frozenset().union(*(s for (n, _), s in self._sets.items() if n == name))

    def quantity(self, name: str) -> float:
        """Scalar value, or number of range elements / set items (Mesos "quantity")."""
        return (
            self.scalar_value(name)
            + _ranges_count(self.ranges_of(name))
            + sum(len(s) for (n, _), s in self._sets.items() if n == name)
        )

    def quantities(self) -> dict[str, float]:
        """`quantity` of every name at once: ``{"cpus": 0.5, "ports": 1001.0}``."""
        out = {name: milli / 1000 for name, milli in self.milli_scalars().items()}
        for (name, _), rs in self._ranges.items():
            out[name] = out.get(name, 0.0) + _ranges_count(rs)
        for (name, _), items in self._sets.items():
            out[name] = out.get(name, 0.0) + len(items)
        return out

    def port_count(self) -> int:
        return _ranges_count(self.ranges_of("ports"))

    def names(self) -> frozenset[str]:
        return frozenset(n for n, _ in self._keys())

    def roles(self) -> frozenset[str]:
        """Reservation roles present, ``"*"`` included when anything is unreserved."""
        return frozenset(r for _, r in self._keys())

    def _keys(self) -> Iterator[_Key]:
        yield from self._scalars
        yield from self._ranges
        yield from self._sets

    # ----------------------------------------------------------------- filtering

    def _filter_roles(self, keep: frozenset[str] | tuple[str, ...]) -> Resources:
        return _new(
            {k: v for k, v in self._scalars.items() if k[1] in keep},
            {k: v for k, v in self._ranges.items() if k[1] in keep},
            {k: v for k, v in self._sets.items() if k[1] in keep},
        )

    def reserved(self, role: str) -> Resources:
        """Entries reserved to exactly ``role``."""
        return self._filter_roles((role,))

    def unreserved(self) -> Resources:
        return self._filter_roles((UNRESERVED,))

    def allocatable_to(self, role: str) -> Resources:
        """What a framework in ``role`` may be offered: unreserved, plus reservations to the
        role or to one of its ancestors (``a`` and ``a/b`` for ``a/b/c``).

        >>> str(Resources.parse_text("cpus:1;cpus(a):2;cpus(b):4").allocatable_to("a/x"))
        'cpus:1;cpus(a):2'
        """
        keep = (UNRESERVED, role, *role_ancestors(role))
        for key in self._keys():
            if key[1] not in keep:
                return self._filter_roles(keep)
        return self  # the common case: nothing reserved to anyone else

    def without_names(self, *names: str) -> Resources:
        drop = frozenset(names)
        return _new(
            {k: v for k, v in self._scalars.items() if k[0] not in drop},
            {k: v for k, v in self._ranges.items() if k[0] not in drop},
            {k: v for k, v in self._sets.items() if k[0] not in drop},
        )

    def with_role(self, role: str) -> Resources:
        """The same quantities, all reserved to ``role`` (``"*"``: all unreserved)."""
        validate_role(role)
        out = _EMPTY
        for (name, _), milli in self._scalars.items():
            out = out + _new({(name, role): milli}, {}, {})
        for (name, _), rs in self._ranges.items():
            out = out + _new({}, {(name, role): rs}, {})
        for (name, _), items in self._sets.items():
            out = out + _new({}, {}, {(name, role): items})
        return out

    def scalar_quantities(self) -> Resources:
        """Only the scalars, summed over roles and unreserved (what cluster totals need)."""
        return _new({(n, UNRESERVED): v for n, v in self.milli_scalars().items()}, {}, {})


_EMPTY = _new({}, {}, {})


# --------------------------------------------------------------------------- parsing helpers


def _check_name(name: object, kind: str, path: str = "resources") -> str:
    if not isinstance(name, str) or not name:
        raise InvalidInput("resource name must be a non-empty string", path=path)
    expected = _KNOWN_TYPES.get(name)
    if expected is not None and expected != kind:
        raise InvalidInput(f"'{name}' must be of type {expected}, not {kind}", path=path)
    return name


def _checked_ranges(ranges: Iterable[Range], name: str) -> list[Range]:
    out = []
    for pair in ranges:
        begin, end = pair
        if not isinstance(begin, int) or not isinstance(end, int):
            raise InvalidInput(f"{name}: range bounds must be integers, got {pair!r}")
        out.append(_check_range(begin, end, name))
    return out


def _range_problem(begin: int, end: int) -> str | None:
    if begin < 0 or end < 0:
        return f"range bounds must not be negative, got [{begin}-{end}]"
    if begin > end:
        return f"range begin {begin} is greater than end {end}"
    if end > MAX_RANGE_BOUND:
        return f"range end {end} does not fit in 64 bits"
    return None


def _check_range(begin: int, end: int, where: str) -> Range:
    problem = _range_problem(begin, end)
    if problem:
        raise InvalidInput(f"{where}: {problem}")
    return (begin, end)


def _parse_number(text: str) -> float | None:
    text = text.strip()
    return float(text) if _NUMBER.match(text) else None


def _parse_text_ranges(value: str, token: str) -> RangeSet:
    inner = value[1:-1].strip()
    out: list[Range] = []
    for part in inner.split(","):
        part = part.strip()
        if not part:
            continue
        begin_s, dash, end_s = part.partition("-")
        begin_s, end_s = begin_s.strip(), (end_s.strip() if dash else begin_s.strip())
        if not (_INTEGER.match(begin_s) and _INTEGER.match(end_s)):
            raise InvalidInput(
                f"'{token}': range '{part}' must look like 'begin-end' with integers",
                path="resources",
            )
        problem = _range_problem(int(begin_s), int(end_s))
        if problem:
            raise InvalidInput(f"'{token}': {problem}", path="resources")
        out.append((int(begin_s), int(end_s)))
    return _coalesce(out)


def _parse_text_entry(token: str, default_role: str) -> Resources:
    name_part, colon, value = token.partition(":")
    if not colon:
        raise InvalidInput(f"'{token}': expected 'name:value'", path="resources")
    match = _TEXT_NAME.match(name_part.strip())
    if not match:
        raise InvalidInput(
            f"'{token}': bad resource name '{name_part.strip()}'; expected 'name' or 'name(role)'",
            path="resources",
        )
    name, role = match.group(1), match.group(2)
    role = default_role if role is None else role.strip()
    try:
        validate_role(role)
    except InvalidInput as exc:
        raise InvalidInput(f"'{token}': {exc.message}", path="resources") from None
    value = value.strip()
    if value.startswith("["):
        if not value.endswith("]"):
            raise InvalidInput(f"'{token}': ranges must end with ']'", path="resources")
        kind = "RANGES"
    elif value.startswith("{"):
        if not value.endswith("}"):
            raise InvalidInput(f"'{token}': sets must end with '}}'", path="resources")
        kind = "SET"
    else:
        kind = "SCALAR"
    expected = _KNOWN_TYPES.get(name)
    if expected is not None and expected != kind:
        hint = "a number" if expected == "SCALAR" else "ranges like [31000-32000]"
        raise InvalidInput(f"'{token}': {name} must be {hint}", path="resources")
    if kind == "RANGES":
        rs = _parse_text_ranges(value, token)
        return _new({}, {(name, role): rs}, {}) if rs else _EMPTY
    if kind == "SET":
        items = frozenset(i.strip() for i in value[1:-1].split(",") if i.strip())
        return _new({}, {}, {(name, role): items}) if items else _EMPTY
    number = _parse_number(value)
    if number is None:
        raise InvalidInput(f"'{token}': '{value}' is not a number", path="resources")
    problem = _scalar_problem(number)
    if problem:
        raise InvalidInput(f"'{token}': {problem}", path="resources")
    milli = _to_milli(number)
    return _new({(name, role): milli}, {}, {}) if milli else _EMPTY


def _absent(obj: Mapping[str, object], key: str) -> bool:
    return obj.get(key) is None  # JSON null means unset


def _json_number(value: object, path: str) -> float:
    """A JSON double: a number, or a numeric string (Mesos's JSON mapping accepts both)."""
    if isinstance(value, bool):
        raise InvalidInput(f"expected a number, got {str(value).lower()}", path=path)
    if isinstance(value, int):
        if abs(value) > MAX_SCALAR:
            raise InvalidInput(f"{value} is too large (at most {MAX_SCALAR:g})", path=path)
        return float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        special = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}
        if value in special:
            return special[value]
        number = _parse_number(value)
        if number is not None:
            return number
        raise InvalidInput(f"'{value}' is not a number", path=path)
    raise InvalidInput(f"expected a number, got {_json_type(value)}", path=path)


def _json_integer(value: object, path: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"expected an integer, got {str(value).lower()}", path=path)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.match(value.strip()):
        return int(value.strip())
    shown = repr(value) if isinstance(value, str | float) else _json_type(value)
    raise InvalidInput(f"expected an integer, got {shown}", path=path)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _json_object(value: object, path: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise InvalidInput(f"expected an object, got {_json_type(value)}", path=path)
    return value


def _json_list(value: object, path: str) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise InvalidInput(f"expected a list, got {_json_type(value)}", path=path)
    return list(value)


def _mesos_role(entry: dict[str, object], path: str) -> str:
    """`role` if given, else the innermost reservation's role, else unreserved."""
    role: object = entry.get("role")
    role_path = f"{path}.role"
    if role is None:
        role = UNRESERVED
        rpath = f"{path}.reservations"
        for j, res in enumerate(_json_list(entry.get("reservations"), rpath)):
            role_path = f"{rpath}[{j}].role"
            role = _json_object(res, f"{rpath}[{j}]").get("role")
            if not isinstance(role, str):
                raise InvalidInput("a reservation needs a role", path=role_path)
            if role == UNRESERVED:
                raise InvalidInput("reservations cannot target '*'", path=role_path)
    if not isinstance(role, str):
        raise InvalidInput(f"expected a string, got {_json_type(role)}", path=role_path)
    problem = _role_problem(role) if role != UNRESERVED else None
    if problem:
        raise InvalidInput(f"role {role!r}: {problem}", path=role_path)
    return role


def _parse_mesos_entry(
    item: object,
    path: str,
    scalars: dict[_Key, int],
    ranges: dict[_Key, list[Range]],
    sets: dict[_Key, set[str]],
) -> None:
    entry = _json_object(item, path)
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput("resource name must be a non-empty string", path=f"{path}.name")
    kind = entry.get("type")
    if kind not in ("SCALAR", "RANGES", "SET"):
        shown = "missing" if kind is None else f"unknown type {kind!r}"
        raise InvalidInput(f"{shown}; expected SCALAR, RANGES or SET", path=f"{path}.type")
    assert isinstance(kind, str)
    _check_name(name, kind, path=f"{path}.type")
    role = _mesos_role(entry, path)
    key = (name, role)
    field_name = kind.lower()
    if _absent(entry, field_name):
        raise InvalidInput(f"missing '{field_name}' for type {kind}", path=f"{path}.{field_name}")
    value = _json_object(entry[field_name], f"{path}.{field_name}")
    if kind == "SCALAR":
        vpath = f"{path}.scalar.value"
        if _absent(value, "value"):
            raise InvalidInput("missing value", path=vpath)
        number = _json_number(value["value"], vpath)
        problem = _scalar_problem(number)
        if problem:
            raise InvalidInput(problem, path=vpath)
        scalars[key] = scalars.get(key, 0) + _to_milli(number)
    elif kind == "RANGES":
        rpath = f"{path}.ranges.range"
        out = ranges.setdefault(key, [])
        for j, r in enumerate(_json_list(value.get("range"), rpath)):
            robj = _json_object(r, f"{rpath}[{j}]")
            bounds = []
            for side in ("begin", "end"):
                if _absent(robj, side):
                    raise InvalidInput(f"missing '{side}'", path=f"{rpath}[{j}].{side}")
                bounds.append(_json_integer(robj[side], f"{rpath}[{j}].{side}"))
            problem = _range_problem(bounds[0], bounds[1])
            if problem:
                raise InvalidInput(problem, path=f"{rpath}[{j}]")
            out.append((bounds[0], bounds[1]))
    else:
        ipath = f"{path}.set.item"
        out_set = sets.setdefault(key, set())
        for j, s in enumerate(_json_list(value.get("item"), ipath)):
            if not isinstance(s, str) or not s:
                raise InvalidInput("set items must be non-empty strings", path=f"{ipath}[{j}]")
            out_set.add(s)
