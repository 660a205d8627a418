"""Groups: the immutable tree of apps under the root group ``/`` (reference 1, /v2/groups).

A ``Group`` holds its direct apps and direct subgroups, keyed by their absolute ids. The
tree keeps two invariants that every operation here preserves, so other code may rely on
them: every app and subgroup sits directly under the group whose id is its parent, and no
path is both an app and a group. Operations return new trees that share the untouched
subtrees with the old one; nothing reads a clock (versions are passed in).

Dependencies (of apps and of groups) are paths; a dependency on a group means every app
inside it. ``dependency_graph`` resolves them to app-to-app edges, ignoring paths that name
nothing (Marathon does the same: a removed app leaves no dangling edge behind), and
``find_cycle`` looks for cycles ("Dependency graph has cyclic dependencies.").

``GroupUpdate`` is a parsed ``/v2/groups`` body: ``apps``/``groups`` given replace the
group's children (unlisted ones are removed); omitted ones are kept. Nested updates apply
to the existing subgroups with the same rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from berth.core.errors import NotFound
from berth.marathon.models.app import DEFAULT_ROLE, AppDefinition
from berth.marathon.models.errors import MarathonValidationError, Violation
from berth.marathon.models.frozenmap import FrozenMap
from berth.marathon.models.jsonread import Cursor, Reader
from berth.marathon.models.parse import build_app
from berth.marathon.models.pathid import ROOT, PathId, id_problems
from berth.marathon.models.rawapp import RawApp, read_raw_app
from berth.marathon.models.render import render_app
from berth.marathon.models.timestamps import format_timestamp
from berth.marathon.models.validate import validate_app

CYCLE = "Dependency graph has cyclic dependencies."
SAME_ID = "Groups and Applications may not have the same identifier."


def not_child_of(group: PathId) -> str:
    return f"Identifier is not child of '{group}'"


_NO_APPS: FrozenMap[PathId, AppDefinition] = FrozenMap()
_NO_GROUPS: FrozenMap[PathId, Group] = FrozenMap()


@dataclass(frozen=True, slots=True)
class Group:
    """One group and its subtree. ``Group(ROOT)`` is an empty root group."""

    id: PathId
    apps: FrozenMap[PathId, AppDefinition] = _NO_APPS
    groups: FrozenMap[PathId, Group] = _NO_GROUPS
    dependencies: tuple[PathId, ...] = ()
    version: datetime | None = None
    enforce_role: bool = False

    # -- lookups -------------------------------------------------------------------------

    def group(self, path: PathId) -> Group | None:
        """The group at ``path`` inside (or equal to) this one, or None.

        >>> root = Group(ROOT).with_app(AppDefinition(id=PathId.parse("/a/b/web")))
        >>> root.group(PathId.parse("/a")).id, root.group(PathId.parse("/x"))
        (PathId(segments=('a',)), None)
        """
        node: Group | None = self
        while node is not None and node.id != path:
            if not path.is_under(node.id):
                return None
            node = node.groups.get(PathId(path.segments[: len(node.id.segments) + 1]))
        return node

    def app(self, path: PathId) -> AppDefinition | None:
        """The app at ``path`` anywhere in this subtree, or None."""
        parent = self.group(path.parent)
        return None if parent is None else parent.apps.get(path)

    def transitive_apps(self) -> Iterator[AppDefinition]:
        """Every app in this subtree: a group's own apps, then its subgroups', depth first."""
        for group in self.transitive_groups():
            yield from group.apps.values()

    def transitive_groups(self) -> Iterator[Group]:
        """This group and every group below it, depth first."""
        stack: list[Group] = [self]
        while stack:
            group = stack.pop()
            yield group
            stack.extend(reversed(list(group.groups.values())))

    def is_empty(self) -> bool:
        return not self.apps and not self.groups

    # -- changes -------------------------------------------------------------------------

    def with_app(self, app: AppDefinition) -> Group:
        """This tree with ``app`` added or replaced; missing enclosing groups are created.

        Raises ``MarathonValidationError`` (path ``/id``) when the id is taken by a group,
        or when an enclosing path is an app.
        """
        self._check_inside(app.id)
        if self.group(app.id) is not None:
            raise MarathonValidationError(
                [Violation("/id", f"{SAME_ID} '{app.id}' is a group; choose another app id")]
            )
        self._check_no_app_above(app.id)
        return self._update_at(app.id.parent, lambda g: replace(g, apps=g.apps.set(app.id, app)))

    def without_app(self, path: PathId) -> Group:
        """This tree without the app at ``path``; ``NotFound`` when there is none.

        Enclosing groups stay, even when left empty (as in Marathon).
        """
        if self.app(path) is None:
            raise NotFound(f"App '{path}' does not exist")
        return self._update_at(path.parent, lambda g: replace(g, apps=g.apps.delete(path)))

    def with_group(self, group: Group) -> Group:
        """This tree with the subtree ``group`` put at ``group.id`` (replacing what was there)."""
        if group.id == self.id:
            return group
        self._check_inside(group.id)
        if self.app(group.id) is not None:
            raise MarathonValidationError(
                [Violation("/id", f"{SAME_ID} '{group.id}' is an app; choose another group id")]
            )
        self._check_no_app_above(group.id)
        return self._update_at(group.id, lambda _: group)

    def without_group(self, path: PathId) -> Group:
        """This tree without the subtree at ``path``; ``NotFound`` when there is none.

        Removing this group itself empties it (``DELETE /v2/groups`` on the root).
        """
        if path == self.id:
            return replace(self, apps=FrozenMap(), groups=FrozenMap(), dependencies=())
        if self.group(path) is None:
            raise NotFound(f"Group '{path}' does not exist")
        return self._update_at(path, lambda _: None)

    def update_group(self, update: GroupUpdate, *, version: datetime | None = None) -> Group:
        """Apply a ``/v2/groups`` body at ``update.id`` (created when missing).

        ``apps``/``groups`` given replace the group's children, nested updates apply to the
        existing subgroups recursively; omitted ones are kept. ``version``, when given,
        stamps every group the update names. Raises ``MarathonValidationError`` when the
        update would break the tree (children outside their group, an id used twice).

        >>> root = Group(ROOT).with_app(AppDefinition(id=PathId.parse("/g/old")))
        >>> new = AppDefinition(id=PathId.parse("/g/new"))
        >>> g = root.update_group(GroupUpdate(id=PathId.parse("/g"), apps=(new,)))
        >>> [str(a.id) for a in g.transitive_apps()]
        ['/g/new']
        """
        problems = _structure_problems(update, "")
        if problems:
            raise MarathonValidationError(problems)
        self._check_inside(update.id, allow_self=True)
        if self.app(update.id) is not None:
            raise MarathonValidationError(
                [Violation("/id", f"{SAME_ID} '{update.id}' is an app; choose another group id")]
            )
        self._check_no_app_above(update.id)
        return self._update_at(update.id, lambda g: _apply(g, update, version))

    def scale_by(self, factor: float) -> Group:
        """Every app in this subtree with ``instances`` multiplied by ``factor``, rounded up.

        >>> root = Group(ROOT).with_app(AppDefinition(id=PathId.parse("/a"), instances=3))
        >>> next(root.scale_by(1.5).transitive_apps()).instances
        5
        """
        if factor < 0 or not math.isfinite(factor):
            raise ValueError(f"scale factor must be a non-negative number, got {factor}")
        return replace(
            self,
            apps=FrozenMap(
                (k, replace(a, instances=scaled_instances(a.instances, factor)))
                for k, a in self.apps.items()
            ),
            groups=FrozenMap((k, g.scale_by(factor)) for k, g in self.groups.items()),
        )

    # -- internals -----------------------------------------------------------------------

    def _check_inside(self, path: PathId, *, allow_self: bool = False) -> None:
        if not (path.is_under(self.id) or (allow_self and path == self.id)):
            raise MarathonValidationError([Violation("/id", not_child_of(self.id))])

    def _check_no_app_above(self, path: PathId) -> None:
        for ancestor in path.ancestors():
            if not ancestor.is_under(self.id):
                break
            if self.app(ancestor) is not None:
                raise MarathonValidationError(
                    [
                        Violation(
                            "/id",
                            f"'{ancestor}' is an app, so '{path}' cannot be placed under it; "
                            "apps cannot contain other apps or groups",
                        )
                    ]
                )

    def _update_at(self, path: PathId, change: Callable[[Group], Group | None]) -> Group:
        """Replace the group at ``path`` (an empty one when missing) by ``change(group)``;
        None removes it. Groups on the way are created as needed."""
        if path == self.id:
            changed = change(self)
            assert changed is not None, "a group cannot remove itself"
            return changed
        child_id = PathId(path.segments[: len(self.id.segments) + 1])
        child = self.groups.get(child_id) or Group(child_id)
        new_child = change(child) if child_id == path else child._update_at(path, change)
        if new_child is None:
            groups = self.groups.delete(child_id) if child_id in self.groups else self.groups
        else:
            groups = self.groups.set(child_id, new_child)
        return replace(self, groups=groups)


def scaled_instances(instances: int, factor: float) -> int:
    """``ceil(instances * factor)`` in decimal, so 10 x 1.1 is 11 and not 12.

    >>> scaled_instances(10, 1.1), scaled_instances(3, 0.5), scaled_instances(0, 7.0)
    (11, 2, 0)
    """
    return math.ceil(Decimal(instances) * Decimal(repr(factor)))


def _apply(current: Group, update: GroupUpdate, version: datetime | None) -> Group:
    apps = current.apps if update.apps is None else FrozenMap((a.id, a) for a in update.apps)
    if update.groups is None:
        groups = current.groups
    else:
        groups = FrozenMap(
            (u.id, _apply(current.groups.get(u.id) or Group(u.id), u, version))
            for u in update.groups
        )
    return Group(
        id=current.id,
        apps=apps,
        groups=groups,
        dependencies=current.dependencies if update.dependencies is None else update.dependencies,
        version=version if version is not None else current.version,
        enforce_role=current.enforce_role if update.enforce_role is None else update.enforce_role,
    )


# -- dependencies ------------------------------------------------------------------------


def dependency_graph(root: Group) -> dict[PathId, frozenset[PathId]]:
    """Each app -> the apps it must wait for (its own and its groups' dependencies).

    A dependency on a group means all apps in it; one on a path that names nothing is
    ignored; an app never waits for itself.

    >>> root = Group(ROOT).with_app(AppDefinition(id=PathId.parse("/db")))
    >>> web = AppDefinition(id=PathId.parse("/web"), dependencies=(PathId.parse("/db"),))
    >>> root = root.with_app(web)
    >>> {str(k): sorted(map(str, v)) for k, v in dependency_graph(root).items()}
    {'/db': [], '/web': ['/db']}
    """

    def targets(path: PathId) -> set[PathId]:
        found = root.app(path)
        if found is not None:
            return {found.id}
        group = root.group(path)
        return set() if group is None else {a.id for a in group.transitive_apps()}

    graph: dict[PathId, frozenset[PathId]] = {}
    inherited: dict[PathId, frozenset[PathId]] = {}
    for group in root.transitive_groups():
        own = set().union(*(targets(d) for d in group.dependencies))
        above = inherited.get(group.id.parent, frozenset()) if group.id != root.id else frozenset()
        inherited[group.id] = frozenset(own) | above
        for app in group.apps.values():
            deps = set(inherited[group.id]).union(*(targets(d) for d in app.dependencies))
            deps.discard(app.id)
            graph[app.id] = frozenset(deps)
    return graph


def find_cycle(graph: Mapping[PathId, Collection[PathId]]) -> list[PathId] | None:
    """A dependency cycle as ``[a, b, ..., a]``, or None when there is none.

    >>> a, b = PathId.parse("/a"), PathId.parse("/b")
    >>> find_cycle({a: {b}, b: {a}}) in ([a, b, a], [b, a, b]), find_cycle({a: {b}, b: set()})
    (True, None)
    """
    done: set[PathId] = set()
    for start in sorted(graph):
        if start in done:
            continue
        # Iterative depth-first search; ``path`` is the current chain from ``start``.
        path: list[PathId] = [start]
        on_path = {start}
        iters: list[Iterator[PathId]] = [iter(sorted(graph.get(start, ())))]
        while iters:
            step = next(iters[-1], None)
            if step is None:
                iters.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if step in on_path:
                return [*path[path.index(step) :], step]
            if step in done:
                continue
            path.append(step)
            on_path.add(step)
            iters.append(iter(sorted(graph.get(step, ()))))
    return None


def validate_root_group(root: Group) -> list[Violation]:
    """Whole-tree rules: today, that the dependency graph has no cycle."""
    cycle = find_cycle(dependency_graph(root))
    if cycle is None:
        return []
    chain = " -> ".join(map(str, cycle))
    return [Violation("/", f"{CYCLE} Cycle: {chain}; remove one of these dependencies")]


# -- group updates -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupUpdate:
    """A parsed ``/v2/groups`` body, ids resolved (``id`` is absolute).

    ``scale_by`` and ``version`` are the special bodies ``{"scaleBy": f}`` and
    ``{"version": ts}`` (scale every app / roll the group back); the caller acts on them.
    """

    id: PathId
    apps: tuple[AppDefinition, ...] | None = None
    groups: tuple[GroupUpdate, ...] | None = None
    dependencies: tuple[PathId, ...] | None = None
    scale_by: float | None = None
    version: datetime | None = None
    enforce_role: bool | None = None


@dataclass(slots=True)
class _RawGroupUpdate:
    path: str
    id: str | None
    apps: list[tuple[str, RawApp]] | None
    groups: list[_RawGroupUpdate] | None
    dependencies: tuple[str, ...] | None
    scale_by: float | None
    version: datetime | None
    enforce_role: bool | None


def _read_group_update(c: Cursor, *, require_id: bool) -> _RawGroupUpdate:
    if c.object(required=True) is None:
        return _RawGroupUpdate(c.path, None, None, None, None, None, None, None)
    apps = None
    app_cursors = c.get("apps").array()
    if app_cursors is not None:
        apps = [(a.path, read_raw_app(a, require_id=True)) for a in app_cursors]
    groups = None
    group_cursors = c.get("groups").array()
    if group_cursors is not None:
        groups = [_read_group_update(g, require_id=True) for g in group_cursors]
    return _RawGroupUpdate(
        path=c.path,
        id=c.get("id").string(required=require_id),
        apps=apps,
        groups=groups,
        dependencies=c.get("dependencies").strings(),
        scale_by=c.get("scaleBy").number(minimum=0),
        version=c.get("version").timestamp(),
        enforce_role=c.get("enforceRole").boolean(),
    )


def _build_group_update(
    raw: _RawGroupUpdate,
    group_id: PathId,
    problems: list[Violation],
    default_role: str,
    default_network_name: str | None,
) -> GroupUpdate:
    apps: list[AppDefinition] | None = None
    if raw.apps is not None:
        apps = []
        for path, raw_app in raw.apps:
            try:
                # Relative app ids and dependencies resolve against the enclosing group.
                app = build_app(raw_app, None, group_id, default_role, default_network_name)
            except MarathonValidationError as e:
                problems.extend(v.under(path) for v in e.violations)
                continue
            apps.append(app)
    groups: list[GroupUpdate] | None = None
    if raw.groups is not None:
        groups = [
            _build_group_update(
                g,
                PathId.parse(g.id or "", group_id),
                problems,
                default_role,
                default_network_name,
            )
            for g in raw.groups
        ]
    return GroupUpdate(
        id=group_id,
        apps=None if apps is None else tuple(apps),
        groups=None if groups is None else tuple(groups),
        dependencies=(
            None
            if raw.dependencies is None
            else tuple(dict.fromkeys(PathId.parse(d, group_id) for d in raw.dependencies))
        ),
        scale_by=raw.scale_by,
        version=raw.version,
        enforce_role=raw.enforce_role,
    )


def parse_group_update(
    obj: object,
    base: PathId = ROOT,
    *,
    group_id: PathId | None = None,
    default_role: str = DEFAULT_ROLE,
    default_network_name: str | None = None,
) -> GroupUpdate:
    """Parse a ``POST``/``PUT /v2/groups[/{id}]`` body.

    The group's id is ``group_id`` when given (the URL's, for ``PUT``), else the body's
    ``id`` resolved against ``base``, else ``base``. Nested group ids resolve against their
    parent group, app ids and dependencies against their enclosing group. Raises
    ``InvalidJsonError`` for shape problems (every one, with its path such as
    ``/groups(0)/apps(1)/cpus``), then ``MarathonValidationError`` for legacy-form
    conflicts inside apps. Semantic rules are ``validate_group_update``'s.

    >>> u = parse_group_update({"id": "prod", "apps": [{"id": "web", "cmd": "serve"}]})
    >>> str(u.id), [str(a.id) for a in u.apps or ()]
    ('/prod', ['/prod/web'])
    """
    reader = Reader()
    raw = _read_group_update(Cursor(reader, "", obj), require_id=False)
    reader.raise_if_any()
    if group_id is None:
        group_id = PathId.parse(raw.id, base) if raw.id is not None else base
    problems: list[Violation] = []
    update = _build_group_update(raw, group_id, problems, default_role, default_network_name)
    if problems:
        raise MarathonValidationError(problems)
    return update


def _structure_problems(update: GroupUpdate, prefix: str) -> list[Violation]:
    """Children outside their group and ids used twice: what would break the tree."""
    out: list[Violation] = []
    app_ids = [a.id for a in update.apps or ()]
    group_ids = [g.id for g in update.groups or ()]
    for i, app in enumerate(update.apps or ()):
        if not app.id.is_child_of(update.id):
            out.append(Violation(f"{prefix}/apps({i})/id", not_child_of(update.id)))
        elif app_ids.count(app.id) > 1:
            out.append(Violation(f"{prefix}/apps({i})/id", f"duplicate app id '{app.id}'"))
        elif app.id in group_ids:
            out.append(Violation(f"{prefix}/apps({i})/id", f"{SAME_ID} '{app.id}'"))
    for j, group in enumerate(update.groups or ()):
        p = f"{prefix}/groups({j})"
        if not group.id.is_child_of(update.id):
            out.append(Violation(f"{p}/id", not_child_of(update.id)))
        elif group_ids.count(group.id) > 1:
            out.append(Violation(f"{p}/id", f"duplicate group id '{group.id}'"))
        out.extend(_structure_problems(group, p))
    return out


def validate_group_update(
    update: GroupUpdate,
    *,
    features: Collection[str] = (),
    valid_roles: Collection[str] | None = None,
) -> list[Violation]:
    """Every problem with a parsed group body: the tree rules and each app's rules.

    Paths are those of the body (``/apps(0)/cpus``, ``/groups(1)/apps(0)/id``).
    """
    out = _structure_problems(update, "")
    _validate_update_contents(update, "", out, frozenset(features), valid_roles)
    return out


def _validate_update_contents(
    update: GroupUpdate,
    prefix: str,
    out: list[Violation],
    features: frozenset[str],
    valid_roles: Collection[str] | None,
) -> None:
    if not update.id.is_root:
        out.extend(Violation(f"{prefix}/id", p) for p in id_problems(update.id))
    special = [
        k for k, v in (("scaleBy", update.scale_by), ("version", update.version)) if v is not None
    ]
    contents = (
        update.apps is not None or update.groups is not None or update.dependencies is not None
    )
    if len(special) > 1 or (special and contents):
        out.append(
            Violation(
                prefix or "/",
                "scaleBy, version and apps/groups/dependencies are exclusive: send one kind "
                "of update per request",
            )
        )
    for i, dep in enumerate(update.dependencies or ()):
        if dep.is_root or dep == update.id or update.id.is_under(dep):
            out.append(
                Violation(
                    f"{prefix}/dependencies({i})",
                    f"'{dep}' contains or is the group itself; a group cannot depend on itself",
                )
            )
    for i, app in enumerate(update.apps or ()):
        p = f"{prefix}/apps({i})"
        violations = validate_app(app, features=features, valid_roles=valid_roles)
        out.extend(v.under(p) for v in violations)
    for j, group in enumerate(update.groups or ()):
        _validate_update_contents(group, f"{prefix}/groups({j})", out, features, valid_roles)


# -- rendering ---------------------------------------------------------------------------


def render_group(
    group: Group,
    *,
    embed_apps: bool = True,
    embed_groups: bool = True,
    embed_pods: bool = True,
    app_json: Callable[[AppDefinition], dict[str, Any]] = render_app,
    enforce_role: bool = False,
) -> dict[str, Any]:
    """GroupInfo: ``{"id","apps","groups","pods","dependencies","version"}``.

    ``embed_*`` select the members (``group.apps``, ``group.groups``, ``group.pods``);
    ``app_json`` renders each app (pass one that adds counts or tasks for
    ``group.apps.*`` embeds). ``enforceRole`` (1.9+) is left out unless asked for: the
    Python client rejects it. Apps and groups are sorted by id.

    >>> render_group(Group(ROOT))
    {'id': '/', 'apps': [], 'groups': [], 'pods': [], 'dependencies': []}
    """
    out: dict[str, Any] = {"id": str(group.id)}
    if embed_apps:
        out["apps"] = [app_json(group.apps[k]) for k in sorted(group.apps)]
    if embed_groups:
        out["groups"] = [
            render_group(
                group.groups[k],
                embed_apps=embed_apps,
                embed_groups=embed_groups,
                embed_pods=embed_pods,
                app_json=app_json,
                enforce_role=enforce_role,
            )
            for k in sorted(group.groups)
        ]
    if embed_pods:
        out["pods"] = []
    out["dependencies"] = [str(d) for d in group.dependencies]
    if group.version is not None:
        out["version"] = format_timestamp(group.version)
    if enforce_role:
        out["enforceRole"] = group.enforce_role
    return out
