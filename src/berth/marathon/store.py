"""What marathon keeps in ``state.store``, and how it is laid out.

::

    marathon/framework_id                    the framework id the master gave us
    marathon/root                            the root group index (below)
    marathon/root-versions/<ts>              earlier root indexes (/v2/groups/versions)
    marathon/apps/<app id>/<ts>              every version of every app (rendered JSON)
    marathon/deployments/<id>                running deployments
    marathon/forgotten/<app id>              when a deleted app was forgotten
    marathon/instances/<instance id>         instance records

The root index names app versions instead of holding apps, so a change writes only the
apps it changed plus a small index: a root group of 1,000 apps is not rewritten whole on
every scale. A change (new app versions, the new index, its deployment) is written in one
transaction before the API answers: nothing accepted is lost.

Instance records change on every status update; ``InstanceWriter`` batches them and
writes without fsync: a process crash loses nothing written, a machine crash at most the
last moments of *observed* states, which reconciliation with the master restores.
Instances are launched only after their record is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from berth.core.jsonutil import JSON, dumps, loads
from berth.marathon.instances import Instance
from berth.marathon.models.app import AppDefinition
from berth.marathon.models.frozenmap import FrozenMap
from berth.marathon.models.group import Group
from berth.marathon.models.parse import parse_app
from berth.marathon.models.pathid import ROOT, PathId
from berth.marathon.models.render import render_app
from berth.marathon.models.timestamps import format_timestamp, parse_timestamp
from berth.state import Store

log = logging.getLogger(__name__)

FRAMEWORK_ID = "marathon/framework_id"
ROOT_KEY = "marathon/root"
ROOT_VERSIONS = "marathon/root-versions/"
APPS = "marathon/apps/"
DEPLOYMENTS = "marathon/deployments/"
FORGOTTEN = "marathon/forgotten/"
INSTANCES = "marathon/instances/"

# Earlier root indexes kept for /v2/groups/versions.
MAX_ROOT_VERSIONS = 50


def app_key(app_id: PathId, version: datetime) -> str:
    return f"{APPS}{app_id}/{format_timestamp(version)}"


def root_index(root: Group) -> JSON:
    """The root group as an index: groups with their own fields, apps by version."""
    groups = [
        {
            "id": str(g.id),
            "dependencies": [str(d) for d in g.dependencies],
            "version": format_timestamp(g.version) if g.version else None,
            "enforceRole": g.enforce_role,
        }
        for g in root.transitive_groups()
    ]
    apps = {
        str(app.id): format_timestamp(app.version) for app in root.transitive_apps() if app.version
    }
    return {"groups": groups, "apps": apps}


def build_root(index: JSON, apps: dict[str, AppDefinition]) -> Group:
    """Rebuild the root group from its index and the apps it names."""
    by_parent: dict[PathId, list[AppDefinition]] = {}
    for app in apps.values():
        by_parent.setdefault(app.id.parent, []).append(app)
    fields: dict[PathId, JSON] = {PathId.parse(g["id"]): g for g in index.get("groups", [])}
    fields.setdefault(ROOT, {"id": "/"})
    for path in list(fields) + list(by_parent):
        for ancestor in path.ancestors():
            fields.setdefault(ancestor, {"id": str(ancestor)})
        fields.setdefault(path, {"id": str(path)})

    def make(path: PathId) -> Group:
        meta = fields[path]
        children = sorted(p for p in fields if p.is_child_of(path))
        version = meta.get("version")
        return Group(
            id=path,
            apps=FrozenMap({a.id: a for a in by_parent.get(path, [])}),
            groups=FrozenMap({c: make(c) for c in children}),
            dependencies=tuple(PathId.parse(d) for d in meta.get("dependencies", [])),
            version=parse_timestamp(version) if version else None,
            enforce_role=bool(meta.get("enforceRole", False)),
        )

    return make(ROOT)


@dataclass(frozen=True, slots=True)
class Loaded:
    root: Group
    deployments: list[JSON]
    instances: list[Instance]
    framework_id: str | None


class MarathonStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def load(self) -> Loaded:
        framework = await self.store.get(FRAMEWORK_ID)
        root_entry = await self.store.get(ROOT_KEY)
        index = loads(root_entry.value) if root_entry else {"groups": [], "apps": {}}
        apps: dict[str, AppDefinition] = {}
        for app_id, version in index.get("apps", {}).items():
            app = await self.app_version(PathId.parse(app_id), version)
            if app is None:
                log.error("root names %s version %s, which is not stored", app_id, version)
                continue
            apps[app_id] = app
        deployments = [loads(v.value) for _, v in await self.store.list(DEPLOYMENTS)]
        instances = []
        for key, entry in await self.store.list(INSTANCES):
            try:
                instances.append(Instance.from_json(loads(entry.value)))
            except (ValueError, TypeError, KeyError):
                log.error("ignoring unreadable instance record %s", key)
        return Loaded(
            root=build_root(index, apps),
            deployments=deployments,
            instances=instances,
            framework_id=framework.value.decode() if framework else None,
        )

    async def save_framework_id(self, framework_id: str) -> None:
        await self.store.put(FRAMEWORK_ID, framework_id.encode())

    async def _forgotten_at(self, app_id: PathId) -> str:
        entry = await self.store.get(f"{FORGOTTEN}{app_id}")
        return entry.value.decode() if entry else ""

    async def app_version(
        self, app_id: PathId, version: str, *, include_forgotten: bool = True
    ) -> AppDefinition | None:
        """One stored version. A deleted app's versions stay stored (earlier root group
        versions name them) but the API shows them no more: ``include_forgotten=False``.
        """
        if not include_forgotten and version <= await self._forgotten_at(app_id):
            return None
        entry = await self.store.get(f"{APPS}{app_id}/{version}")
        if entry is None:
            return None
        app = parse_app(loads(entry.value))
        # The stored form carries version and versionInfo; parse_app keeps both.
        return app if app.id == app_id else replace(app, id=app_id)

    async def app_versions(self, app_id: PathId) -> list[str]:
        """The versions of the app as it exists now (not those of a deleted namesake)."""
        prefix = f"{APPS}{app_id}/"
        forgotten = await self._forgotten_at(app_id)
        return [
            version
            for key, _ in await self.store.list(prefix)
            if "/" not in (version := key[len(prefix) :]) and version > forgotten
        ]

    async def root_versions(self) -> list[str]:
        return [key[len(ROOT_VERSIONS) :] for key, _ in await self.store.list(ROOT_VERSIONS)]

    async def root_at(self, version: str) -> Group | None:
        entry = await self.store.get(ROOT_VERSIONS + version)
        if entry is None:
            return None
        index = loads(entry.value)
        apps: dict[str, AppDefinition] = {}
        for app_id, app_version in index.get("apps", {}).items():
            app = await self.app_version(PathId.parse(app_id), app_version)
            if app is not None:
                apps[app_id] = app
        return build_root(index, apps)

    async def commit(
        self,
        *,
        root: Group,
        new_apps: Iterable[AppDefinition] = (),
        deployment: tuple[str, JSON] | None = None,
        finished_deployments: Sequence[str] = (),
        forget_apps: Sequence[PathId] = (),
    ) -> None:
        """Write a change atomically: new app versions, the new root, its deployment."""
        puts: list[tuple[str, bytes]] = []
        deletes: list[str] = [DEPLOYMENTS + d for d in finished_deployments]
        for app in new_apps:
            assert app.version is not None, "apps are stored with their version"
            puts.append((app_key(app.id, app.version), dumps(render_app(app))))
        index = dumps(root_index(root))
        puts.append((ROOT_KEY, index))
        if root.version is not None:
            puts.append((ROOT_VERSIONS + format_timestamp(root.version), index))
        if deployment is not None:
            puts.append((DEPLOYMENTS + deployment[0], dumps(deployment[1])))
        if forget_apps:
            stamp = format_timestamp(root.version) if root.version else "9999"
            puts.extend((f"{FORGOTTEN}{app_id}", stamp.encode()) for app_id in forget_apps)
        await self.store.put_many(puts, delete=deletes)
        versions = await self.root_versions()
        if len(versions) > MAX_ROOT_VERSIONS:
            await self.store.put_many(
                [], delete=[ROOT_VERSIONS + v for v in versions[:-MAX_ROOT_VERSIONS]]
            )

    async def save_deployment(self, deployment_id: str, data: JSON) -> None:
        await self.store.put(DEPLOYMENTS + deployment_id, dumps(data))

    async def delete_deployments(self, ids: Sequence[str]) -> None:
        if ids:
            await self.store.put_many([], delete=[DEPLOYMENTS + d for d in ids])


class InstanceWriter:
    """Batches instance writes: ``mark`` never blocks; ``flush`` makes them durable."""

    def __init__(self, store: Store, *, interval: float = 0.05) -> None:
        self._store = store
        self._interval = interval
        self._pending: dict[str, Instance | None] = {}
        self._wakeup = asyncio.Event()
        self._lock = asyncio.Lock()

    def mark(self, instance: Instance) -> None:
        self._pending[instance.instance_id] = instance
        self._wakeup.set()

    def forget(self, instance_id: str) -> None:
        self._pending[instance_id] = None
        self._wakeup.set()

    async def flush(self) -> None:
        async with self._lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, {}
            puts = [
                (INSTANCES + iid, dumps(inst.to_json()))
                for iid, inst in batch.items()
                if inst is not None
            ]
            deletes = [INSTANCES + iid for iid, inst in batch.items() if inst is None]
            # Observed state: reconciliation with the master rebuilds it after a machine
            # crash, so it is not worth an fsync on every launch.
            await self._store.put_many(puts, delete=deletes, durable=False)

    async def run(self) -> None:
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                await asyncio.sleep(self._interval)
                await self.flush()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.flush())
