"""Server-sent events, as Marathon's ``/v2/events`` writes them (pure parsing).

A frame is ``event: <type>`` and ``data: <one-line JSON>`` lines ended by a blank line;
a bare blank line is a heartbeat. Only ``data`` matters: the JSON carries its own
``eventType``. Lines may end in ``\\r\\n`` or ``\\n``.
"""

from __future__ import annotations

import json
from typing import Any

Event = dict[str, Any]


class SseParser:
    """Feed it lines, get back whole events.

    >>> p = SseParser()
    >>> p.feed(b"event: x\\r\\n"), p.feed(b'data: {"eventType": "x"}\\r\\n'), p.feed(b"\\r\\n")
    (None, None, {'eventType': 'x'})
    >>> p.feed(b"\\r\\n") is None  # a heartbeat
    True
    """

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: bytes) -> Event | None:
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if text:
            if text.startswith(":"):
                return None  # an SSE comment
            field, _, value = text.partition(":")
            if field == "data":
                self._data.append(value.removeprefix(" "))
            return None
        if not self._data:
            return None
        payload = "\n".join(self._data)
        self._data = []
        try:
            event = json.loads(payload)
        except ValueError:
            return None  # not ours to judge; a later frame will be whole
        return event if isinstance(event, dict) else None
