"""FrozenMap: a read-only, hashable mapping for model fields."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.marathon.models import FrozenMap


def test_changes_return_new_maps() -> None:
    m = FrozenMap({"a": 1})
    assert m.set("b", 2) == {"a": 1, "b": 2}
    assert m == {"a": 1}
    assert m.delete("a") == {}
    assert len(m) == 1
    with pytest.raises(KeyError):
        m.delete("x")
    with pytest.raises(TypeError):
        m["a"] = 2  # type: ignore[index]


@given(st.dictionaries(st.text(max_size=3), st.integers(), max_size=5))
def test_equal_content_means_equal_and_same_hash(data: dict[str, int]) -> None:
    a, b = FrozenMap(data), FrozenMap(reversed(list(data.items())))
    assert a == b == data
    assert hash(a) == hash(b)
    assert a.to_dict() == data
    assert a.to_dict() is not a.to_dict()
