"""An immutable, hashable mapping for the fields of frozen models.

Frozen dataclasses stop attribute assignment, but a ``dict`` field can still be changed in
place by whoever holds it; ``FrozenMap`` closes that hole and keeps the models hashable.
Changes return new maps (``set``, ``delete``), so trees of models can share structure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V]):
    """A read-only ``dict`` that hashes by content and keeps insertion order.

    >>> m = FrozenMap({"a": "1"})
    >>> m.set("b", "2"), m
    (FrozenMap({'a': '1', 'b': '2'}), FrozenMap({'a': '1'}))
    >>> m == {"a": "1"}, hash(m) == hash(FrozenMap([("a", "1")]))
    (True, True)
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[K, V] | Iterable[tuple[K, V]] = (), /) -> None:
        self._data: dict[K, V] = dict(data)
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def set(self, key: K, value: V) -> FrozenMap[K, V]:
        """A copy with ``key`` mapped to ``value`` (added last when new)."""
        data = dict(self._data)
        data[key] = value
        return FrozenMap(data)

    def delete(self, key: K) -> FrozenMap[K, V]:
        """A copy without ``key``; raises ``KeyError`` when it is absent."""
        data = dict(self._data)
        del data[key]
        return FrozenMap(data)

    def to_dict(self) -> dict[K, V]:
        """A fresh, mutable ``dict`` with the same items."""
        return dict(self._data)
