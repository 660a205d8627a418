"""The storage contract every Berth store implements.

Keys are ``/``-separated strings (``agents/M-S0``); values are bytes; every write bumps the
key's version, starting at 1. Compare-and-set: ``put(key, value, expected_version=v)``
succeeds only if the key's current version is ``v`` (0 meaning "must not exist"), else
raises ``VersionConflict``. ``expected_version=None`` writes unconditionally.

Callers: the master (agent registry), marathon (apps, groups, deployments, instances).
All methods are coroutines and may be called concurrently from one event loop; each
store serialises its own writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Versioned:
    value: bytes
    version: int


class VersionConflict(Exception):
    """A compare-and-set found another version than the one expected."""

    def __init__(self, key: str, expected: int, actual: int) -> None:
        super().__init__(f"{key}: expected version {expected}, found {actual}")
        self.key = key
        self.expected = expected
        self.actual = actual


class Store(Protocol):
    async def get(self, key: str) -> Versioned | None: ...

    async def put(self, key: str, value: bytes, *, expected_version: int | None = None) -> int:
        """Write ``value``; returns the new version."""
        ...

    async def put_many(
        self, items: list[tuple[str, bytes]], *, delete: Sequence[str] = (), durable: bool = True
    ) -> None:
        """Write several keys (and remove ``delete``) unconditionally in one transaction:
        all or nothing. ``durable=False`` may lose the write to a machine crash (never
        to a process crash): for state the service can rebuild."""
        ...

    async def delete(self, key: str, *, expected_version: int | None = None) -> bool:
        """Remove ``key``; False when it did not exist."""
        ...

    async def list(self, prefix: str) -> list[tuple[str, Versioned]]:
        """Every key starting with ``prefix``, in key order."""
        ...

    async def close(self) -> None: ...
