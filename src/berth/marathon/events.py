"""Marathon's event bus and its server-sent-events stream (``/v2/events``).

Every state change becomes an event dict (Marathon's shapes, reference section 1) on the
bus; each listener has a bounded queue, and one that cannot keep up is dropped rather
than slowing everyone else down (its client reconnects and resyncs, as Marathon's do).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

from berth.core.jsonutil import JSON, dumps

log = logging.getLogger(__name__)

LISTENER_QUEUE = 10_000
HEARTBEAT_SECONDS = 10.0


def timestamp(now: float | None = None) -> str:
    """Marathon's timestamp form: UTC, milliseconds, literal Z.

    >>> timestamp(0.5)
    '1970-01-01T00:00:00.500Z'
    """
    moment = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sse_frame(event: JSON) -> bytes:
    r"""One server-sent event.

    >>> sse_frame({"eventType": "x", "a": 1})
    b'event: x\r\ndata: {"eventType":"x","a":1}\r\n\r\n'
    """
    return b"event: %s\r\ndata: %s\r\n\r\n" % (str(event["eventType"]).encode(), dumps(event))


@dataclass(eq=False)
class Listener:
    types: frozenset[str] | None  # None: every event type
    queue: asyncio.Queue[bytes | None] = field(
        default_factory=lambda: asyncio.Queue(LISTENER_QUEUE)
    )


class EventBus:
    def __init__(self) -> None:
        self._listeners: set[Listener] = set()
        self.published = 0

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def publish(self, event_type: str, **fields: object) -> JSON:
        event: JSON = {"eventType": event_type, "timestamp": timestamp(), **fields}
        frame = sse_frame(event)
        self.published += 1
        for listener in list(self._listeners):
            if listener.types is not None and event_type not in listener.types:
                continue
            try:
                listener.queue.put_nowait(frame)
            except asyncio.QueueFull:
                log.warning("dropping an event listener that does not keep up")
                self._listeners.discard(listener)
                listener.queue.get_nowait()
                listener.queue.put_nowait(None)
        return event

    async def stream(
        self, types: Collection[str] | None, remote_address: str
    ) -> AsyncIterator[bytes]:
        """Frames for one SSE client, heartbeats included, until it goes away."""
        listener = Listener(frozenset(types) if types else None)
        self._listeners.add(listener)
        self.publish("event_stream_attached", remoteAddress=remote_address)
        try:
            while True:
                try:
                    frame = await asyncio.wait_for(listener.queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield b"\r\n"
                    continue
                if frame is None:
                    return
                yield frame
        finally:
            self._listeners.discard(listener)
            self.publish("event_stream_detached", remoteAddress=remote_address)
