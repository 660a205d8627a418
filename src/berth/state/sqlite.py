"""``Store`` on one SQLite file.

One dedicated thread owns the connection: every operation is a closure queued to it and
answered through a future, so writes are serialised without locks in the event loop and
the loop never blocks on disk. WAL journal with ``synchronous=FULL``: a write that returned
survives a crash of the process or of the machine.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from berth.state.store import VersionConflict, Versioned

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    version INTEGER NOT NULL
) WITHOUT ROWID;
"""


class SqliteStore:
    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: Path | str) -> SqliteStore:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        store = cls(path)
        await store._run(store._connect)
        return store

    def _connect(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(_SCHEMA)
        self._conn = conn

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("store is closed")
        return self._conn

    def _version(self, key: str) -> int:
        row = self._db.execute("SELECT version FROM kv WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    async def get(self, key: str) -> Versioned | None:
        def op() -> Versioned | None:
            row = self._db.execute("SELECT value, version FROM kv WHERE key = ?", (key,)).fetchone()
            return Versioned(bytes(row[0]), int(row[1])) if row else None

        return await self._run(op)

    async def put(self, key: str, value: bytes, *, expected_version: int | None = None) -> int:
        def op() -> int:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                current = self._version(key)
                if expected_version is not None and current != expected_version:
                    raise VersionConflict(key, expected_version, current)
                db.execute(
                    "INSERT INTO kv (key, value, version) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                    "version = excluded.version",
                    (key, value, current + 1),
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return current + 1

        return await self._run(op)

    async def put_many(
        self, items: list[tuple[str, bytes]], *, delete: Sequence[str] = (), durable: bool = True
    ) -> None:
        def op() -> None:
            db = self._db
            if not durable:
                # WAL + NORMAL: committed in the log at once, synced at the next checkpoint.
                db.execute("PRAGMA synchronous=NORMAL")
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany(
                        "INSERT INTO kv (key, value, version) VALUES (?, ?, 1) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                        "version = kv.version + 1",
                        items,
                    )
                    db.executemany("DELETE FROM kv WHERE key = ?", [(k,) for k in delete])
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            finally:
                if not durable:
                    db.execute("PRAGMA synchronous=FULL")

        await self._run(op)

    async def delete(self, key: str, *, expected_version: int | None = None) -> bool:
        def op() -> bool:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                current = self._version(key)
                if expected_version is not None and current != expected_version:
                    raise VersionConflict(key, expected_version, current)
                db.execute("DELETE FROM kv WHERE key = ?", (key,))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return current > 0

        return await self._run(op)

    async def list(self, prefix: str) -> list[tuple[str, Versioned]]:
        def op() -> list[tuple[str, Versioned]]:
            # Range scan instead of LIKE: prefixes may contain % or _.
            upper = prefix + "\U0010ffff"
            rows = self._db.execute(
                "SELECT key, value, version FROM kv WHERE key >= ? AND key < ? ORDER BY key",
                (prefix, upper),
            ).fetchall()
            return [(str(k), Versioned(bytes(v), int(n))) for k, v, n in rows]

        return await self._run(op)

    async def close(self) -> None:
        def op() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await self._run(op)
        self._executor.shutdown(wait=True)
