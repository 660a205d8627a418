"""Durable state and leadership behind small interfaces.

``store.Store`` is a versioned key-value store with compare-and-set; ``sqlite.SqliteStore``
implements it on one SQLite file (the default), a ZooKeeper store joins it for several
masters or marathons. Everything a Berth service must not lose goes through a ``Store``.
"""

from berth.state.store import Store, VersionConflict, Versioned

__all__ = ["Store", "VersionConflict", "Versioned"]
