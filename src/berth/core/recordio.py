"""RecordIO, the framing of Mesos event streams.

Each record is ``<decimal length of the payload>\\n<payload>``: no separator after the
payload, never an empty record.

>>> encode(b'{"type":"HEARTBEAT"}')
b'20\\n{"type":"HEARTBEAT"}'
>>> d = Decoder()
>>> d.feed(b'20\\n{"type":"HEARTB') + d.feed(b'EAT"}5\\nhello')
[b'{"type":"HEARTBEAT"}', b'hello']
"""

from __future__ import annotations

# A length header longer than this is not a length: the stream is corrupt.
_MAX_HEADER = 20


class RecordIOError(ValueError):
    """The stream does not follow the RecordIO framing."""


def encode(payload: bytes) -> bytes:
    if not payload:
        raise ValueError("RecordIO records are never empty")
    return b"%d\n%s" % (len(payload), payload)


class Decoder:
    """Incremental decoder: feed it bytes as they arrive, get whole records back."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._length: int | None = None

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        records: list[bytes] = []
        while True:
            if self._length is None:
                newline = self._buffer.find(b"\n")
                if newline < 0:
                    if len(self._buffer) > _MAX_HEADER:
                        raise RecordIOError("record length header is too long")
                    return records
                header = bytes(self._buffer[:newline])
                if not header.isdigit() or len(header) > _MAX_HEADER:
                    raise RecordIOError(f"bad record length header {header[:_MAX_HEADER]!r}")
                self._length = int(header)
                del self._buffer[: newline + 1]
            if len(self._buffer) < self._length:
                return records
            records.append(bytes(self._buffer[: self._length]))
            del self._buffer[: self._length]
            self._length = None
