"""Contract suite for ``Store`` implementations (SQLite now; ZooKeeper joins later)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from berth.state import Store, VersionConflict
from berth.state.sqlite import SqliteStore


@pytest.fixture(params=["sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    assert request.param == "sqlite"
    s = await SqliteStore.open(tmp_path / "state.db")
    yield s
    await s.close()


async def test_put_get_versions(store: Store) -> None:
    assert await store.get("a") is None
    assert await store.put("a", b"1") == 1
    assert await store.put("a", b"2") == 2
    got = await store.get("a")
    assert got is not None
    assert (got.value, got.version) == (b"2", 2)


async def test_compare_and_set(store: Store) -> None:
    assert await store.put("k", b"x", expected_version=0) == 1
    with pytest.raises(VersionConflict):
        await store.put("k", b"y", expected_version=0)
    with pytest.raises(VersionConflict):
        await store.put("k", b"y", expected_version=5)
    assert await store.put("k", b"y", expected_version=1) == 2
    with pytest.raises(VersionConflict):
        await store.delete("k", expected_version=1)
    assert await store.delete("k", expected_version=2)
    assert not await store.delete("k")


async def test_list_by_prefix_is_ordered_and_exact(store: Store) -> None:
    await store.put_many([("apps/b", b"2"), ("apps/a", b"1"), ("apps_x", b"no"), ("app", b"no")])
    await store.put("apps/%", b"3")
    keys = [k for k, _ in await store.list("apps/")]
    assert keys == ["apps/%", "apps/a", "apps/b"]


async def test_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    s = await SqliteStore.open(path)
    await s.put("agents/M-S0", b'{"hostname":"h"}')
    await s.close()
    s2 = await SqliteStore.open(path)
    got = await s2.get("agents/M-S0")
    await s2.close()
    assert got is not None
    assert got.value == b'{"hostname":"h"}'


async def test_put_many_writes_and_deletes_in_one_transaction(store: Store) -> None:
    await store.put_many([("a", b"1"), ("b", b"2")])
    await store.put_many([("c", b"3")], delete=["a"])
    assert [k for k, _ in await store.list("")] == ["b", "c"]


async def test_writes_without_fsync_are_still_atomic_and_visible(store: Store) -> None:
    await store.put_many([("x", b"1"), ("y", b"2")], durable=False)
    await store.put_many([("z", b"3")], delete=["x"], durable=False)
    assert [k for k, _ in await store.list("")] == ["y", "z"]
    # ...and durable writes after them still work.
    assert await store.put("y", b"3", expected_version=1) == 2
