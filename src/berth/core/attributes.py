"""Agent attributes: ``--attributes`` text, Mesos JSON, and the flat state-JSON form.

>>> attributes_to_state(parse_attributes("rack:r1;level:10"))
{'rack': 'r1', 'level': 10}
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from berth.core.errors import InvalidInput
from berth.core.resources import (
    Range,
    RangeSet,
    _absent,
    _coalesce,
    _json_integer,
    _json_list,
    _json_number,
    _json_object,
    _parse_number,
    _parse_text_ranges,
    _range_problem,
    _ranges_text,
)


@dataclass(frozen=True, slots=True)
class Attribute:
    """An agent attribute: ``rack:r1`` (TEXT), ``level:10`` (SCALAR), ``keys:[1-5]`` (RANGES)."""

    name: str
    kind: Literal["TEXT", "SCALAR", "RANGES"]
    value: str | float | RangeSet

    def state_value(self) -> str | float:
        """The flat state-JSON value: text as is, scalars as numbers, ranges as text."""
        if self.kind == "RANGES":
            assert isinstance(self.value, tuple)
            return _ranges_text(self.value)
        if self.kind == "SCALAR":
            assert isinstance(self.value, float)
            return int(self.value) if self.value.is_integer() else self.value
        assert isinstance(self.value, str)
        return self.value


def parse_attributes(text: str) -> tuple[Attribute, ...]:
    """Parse the agent ``--attributes`` syntax; types are inferred from each value.

    >>> [(a.name, a.kind, a.value) for a in parse_attributes("rack:r1;level:10;keys:[1-5]")]
    [('rack', 'TEXT', 'r1'), ('level', 'SCALAR', 10.0), ('keys', 'RANGES', ((1, 5),))]
    """
    if not isinstance(text, str):
        raise InvalidInput("expected text", path="attributes")
    out: list[Attribute] = []
    for raw in text.split(";"):
        token = raw.strip()
        if not token:
            continue
        name, colon, value = token.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not name:
            raise InvalidInput(f"'{token}': expected 'name:value'", path="attributes")
        if not value:
            raise InvalidInput(f"'{token}': value must not be empty", path="attributes")
        if value.startswith("["):
            if not value.endswith("]"):
                raise InvalidInput(f"'{token}': ranges must end with ']'", path="attributes")
            try:
                rs = _parse_text_ranges(value, token)
            except InvalidInput as exc:
                raise InvalidInput(exc.message, path="attributes") from None
            out.append(Attribute(name, "RANGES", rs))
        elif value.startswith("{"):
            raise InvalidInput(f"'{token}': set values are not valid attributes", path="attributes")
        else:
            number = _parse_number(value)
            if number is not None and math.isfinite(number):
                out.append(Attribute(name, "SCALAR", number))
            else:
                out.append(Attribute(name, "TEXT", value))
    return tuple(out)


def attributes_to_mesos(attrs: Iterable[Attribute]) -> list[dict[str, Any]]:
    """Offer / AgentInfo form: ``[{"name": "rack", "type": "TEXT", "text": {"value": "r1"}}]``."""
    out: list[dict[str, Any]] = []
    for a in attrs:
        if a.kind == "TEXT":
            out.append({"name": a.name, "type": "TEXT", "text": {"value": a.value}})
        elif a.kind == "SCALAR":
            out.append({"name": a.name, "type": "SCALAR", "scalar": {"value": a.value}})
        else:
            assert isinstance(a.value, tuple)
            rng = [{"begin": b, "end": e} for b, e in a.value]
            out.append({"name": a.name, "type": "RANGES", "ranges": {"range": rng}})
    return out


def attributes_to_state(attrs: Iterable[Attribute]) -> dict[str, str | float]:
    """State-JSON form: ``{"rack": "r1", "level": 10, "keys": "[1000-1500]"}``."""
    return {a.name: a.state_value() for a in attrs}


def attributes_from_mesos(items: object, path: str = "attributes") -> tuple[Attribute, ...]:
    """Parse Mesos JSON attributes (as agents send them), strictly, with JSON paths."""
    out: list[Attribute] = []
    for i, item in enumerate(_json_list(items, path)):
        ipath = f"{path}[{i}]"
        entry = _json_object(item, ipath)
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput("attribute name must be a non-empty string", path=f"{ipath}.name")
        kind = entry.get("type")
        if kind not in ("TEXT", "SCALAR", "RANGES"):
            shown = "missing" if kind is None else f"unknown type {kind!r}"
            raise InvalidInput(f"{shown}; expected TEXT, SCALAR or RANGES", path=f"{ipath}.type")
        assert isinstance(kind, str)
        field_name = kind.lower()
        if _absent(entry, field_name):
            raise InvalidInput(
                f"missing '{field_name}' for type {kind}", path=f"{ipath}.{field_name}"
            )
        value = _json_object(entry[field_name], f"{ipath}.{field_name}")
        if kind == "TEXT":
            text = value.get("value")
            if not isinstance(text, str):
                raise InvalidInput("expected a string", path=f"{ipath}.text.value")
            out.append(Attribute(name, "TEXT", text))
        elif kind == "SCALAR":
            vpath = f"{ipath}.scalar.value"
            if _absent(value, "value"):
                raise InvalidInput("missing value", path=vpath)
            number = _json_number(value["value"], vpath)
            if not math.isfinite(number):
                raise InvalidInput("must be a finite number", path=vpath)
            out.append(Attribute(name, "SCALAR", number))
        else:
            rpath = f"{ipath}.ranges.range"
            rs: list[Range] = []
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
                rs.append((bounds[0], bounds[1]))
            out.append(Attribute(name, "RANGES", _coalesce(rs)))
    return tuple(out)
