"""Path ids: the slash-separated names of apps and groups (``/prod/web``).

Parsing is lenient and total: it never raises. Leading, trailing and doubled slashes are
dropped (the Python client sends ``PUT /v2/apps//test-app``), a relative id is joined to a
base (``/`` for ``/v2/apps``, the enclosing group inside ``/v2/groups`` bodies), and ``.``
and ``..`` are resolved, ``..`` stopping at the root as Marathon's does. Whether the result
may name an app is a separate question, answered by ``id_problems``: each segment must
match Marathon's regex and the last may not be a reserved word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Marathon's segment rule, verbatim, because its text is part of the error message.
SEGMENT_PATTERN = (
    r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$"
)
_SEGMENT = re.compile(
    r"(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)"
)
# Last segments that would collide with sub-resources of /v2/apps/{id}.
RESERVED_LAST_SEGMENTS = ("restart", "tasks", "versions", ".", "..")


@dataclass(frozen=True, slots=True, order=True)
class PathId:
    """An absolute path id; ``PathId(())`` is the root group ``/``.

    >>> web = PathId.parse("web", base=PathId.parse("/prod"))
    >>> str(web), str(web.parent), web.safe_name, web.is_child_of(PathId.parse("prod"))
    ('/prod/web', '/prod', 'prod_web', True)
    >>> str(PathId.parse("//a/./b/../c/")), str(PathId.parse("../../x", base=web))
    ('/a/c', '/x')
    """

    segments: tuple[str, ...] = ()

    @staticmethod
    def parse(text: str, base: PathId | None = None) -> PathId:
        """Resolve ``text`` (absolute, or relative to ``base``, default root)."""
        parts = [p for p in text.split("/") if p]
        start = () if text.startswith("/") or base is None else base.segments
        resolved: list[str] = list(start)
        for part in parts:
            if part == ".":
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            resolved.append(part)
        return PathId(tuple(resolved))

    @staticmethod
    def from_safe_name(name: str) -> PathId:
        """Invert ``safe_name`` (segments never contain ``_``, so this is exact)."""
        return PathId(tuple(p for p in name.split("_") if p))

    def __str__(self) -> str:
        return "/" + "/".join(self.segments)

    def __truediv__(self, name: str) -> PathId:
        return PathId.parse(name, base=self)

    @property
    def is_root(self) -> bool:
        return not self.segments

    @property
    def parent(self) -> PathId:
        """The enclosing group; the root is its own parent."""
        return PathId(self.segments[:-1])

    @property
    def name(self) -> str:
        """The last segment (``""`` for the root)."""
        return self.segments[-1] if self.segments else ""

    @property
    def safe_name(self) -> str:
        """The id as used in task ids: ``/prod/web`` -> ``prod_web``."""
        return "_".join(self.segments)

    def is_child_of(self, group: PathId) -> bool:
        """True when ``group`` directly encloses this path."""
        return len(self.segments) == len(group.segments) + 1 and self.is_under(group)

    def is_under(self, group: PathId) -> bool:
        """True when this path lies strictly inside ``group`` (at any depth)."""
        n = len(group.segments)
        return len(self.segments) > n and self.segments[:n] == group.segments

    def ancestors(self) -> tuple[PathId, ...]:
        """Enclosing groups, nearest first, ending with the root."""
        return tuple(PathId(self.segments[:i]) for i in range(len(self.segments) - 1, -1, -1))

    def child(self, segment: str) -> PathId:
        return PathId((*self.segments, segment))


ROOT = PathId()


def segment_problem(segment: str) -> str | None:
    """Why ``segment`` cannot be part of an id, or None.

    >>> segment_problem("web-1"), segment_problem("Web") is not None
    (None, True)
    """
    if _SEGMENT.fullmatch(segment):
        return None
    return (
        f"must fully match regular expression '{SEGMENT_PATTERN}': "
        f"'{segment}' is not allowed; use lowercase letters, digits, '-' and '.', "
        "starting and ending with a letter or digit"
    )


def id_problems(path: PathId) -> list[str]:
    """Every reason ``path`` cannot name an app (or a non-root group), in order.

    >>> id_problems(PathId.parse("/ok/name"))
    []
    >>> id_problems(PathId.parse("/a/tasks"))[0][:40]
    'must not end with any of the following r'
    """
    if path.is_root:
        return ["Path must contain at least one path element: the root group '/' cannot be an app"]
    problems = [p for p in map(segment_problem, path.segments) if p is not None]
    if path.name in RESERVED_LAST_SEGMENTS:
        problems.append(
            "must not end with any of the following reserved keywords: "
            + ", ".join(RESERVED_LAST_SEGMENTS)
        )
    return problems
