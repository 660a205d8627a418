"""JSON helpers: orjson for speed, with the Mesos ID wrapping in one place."""

from __future__ import annotations

from typing import Any

import orjson

JSON = dict[str, Any]


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def id_of(value: str) -> JSON:
    """Mesos wraps every ID in an object: ``id_of("M-S0") == {"value": "M-S0"}``."""
    return {"value": value}


def id_value(obj: Any) -> str | None:
    """The plain ID inside a Mesos ID object, or None when absent or malformed.

    >>> id_value({"value": "M-S0"}), id_value(None), id_value({"value": 3})
    ('M-S0', None, None)
    """
    if isinstance(obj, dict):
        value = obj.get("value")
        if isinstance(value, str):
            return value
    return None
