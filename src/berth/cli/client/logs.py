"""``task log``: find a task's sandbox and read (or follow) its stdout or stderr.

The way there is the one the DC/OS CLI takes without a logging service: the master says
which agent runs (or ran) the task, the agent's ``/state`` gives the sandbox directory,
and the agent's files API (``/files/read?path&offset&length``) reads the file in pieces
of at most 64 KiB. Following polls the end of the file.

Offsets are bytes; the files API returns text decoded with replacement characters, so
the next offset is the length of the re-encoded text. That is exact for UTF-8 output
(what tasks write in practice); invalid bytes may make a followed log skip or repeat a
few bytes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from berth.cli.client.context import Cluster
from berth.cli.client.errors import ClientError
from berth.cli.client.http import build_url

CHUNK = 64 * 1024
FOLLOW_INTERVAL = 0.5


@dataclass(frozen=True, slots=True)
class TaskRef:
    task_id: str
    agent_id: str
    framework_id: str
    state: str


def _tasks_of(state: Mapping[str, Any]) -> Iterable[TaskRef]:
    frameworks = [*state.get("frameworks", []), *state.get("completed_frameworks", [])]
    for fw in frameworks:
        if not isinstance(fw, dict):
            continue
        for key in ("tasks", "unreachable_tasks", "completed_tasks"):
            for task in fw.get(key, []) or []:
                if isinstance(task, dict) and isinstance(task.get("id"), str):
                    yield TaskRef(
                        task["id"],
                        str(task.get("slave_id", "")),
                        str(task.get("framework_id") or fw.get("id", "")),
                        str(task.get("state", "")),
                    )


def match_task(tasks: Iterable[TaskRef], wanted: str) -> TaskRef:
    """The task ``wanted`` names: its exact id, else the one task whose id contains it.

    A running incarnation is preferred over finished ones of the same id.

    >>> ts = [TaskRef("web.1", "S1", "F", "TASK_RUNNING"),
    ...       TaskRef("web.2", "S1", "F", "TASK_RUNNING")]
    >>> match_task(ts, "web.2").task_id
    'web.2'
    >>> match_task(ts, "web")
    Traceback (most recent call last):
    ...
    berth.cli.client.errors.ClientError: 2 tasks match 'web': web.1, web.2; give more of the id
    """
    tasks = list(tasks)
    exact = [t for t in tasks if t.task_id == wanted]
    candidates = exact or [t for t in tasks if wanted in t.task_id]
    ids = sorted({t.task_id for t in candidates})
    if not ids:
        raise ClientError(f"no task matches {wanted!r}: see `berth task list`")
    if len(ids) > 1:
        shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
        raise ClientError(f"{len(ids)} tasks match {wanted!r}: {shown}; give more of the id")
    same = [t for t in candidates if t.task_id == ids[0]]
    live = [t for t in same if t.state in ("TASK_RUNNING", "TASK_STARTING", "TASK_STAGING")]
    return (live or same)[-1]


def find_task(cluster: Cluster, wanted: str) -> TaskRef:
    state = cluster.master("/master/state")
    return match_task(_tasks_of(state if isinstance(state, dict) else {}), wanted)


def sandbox_of(agent_state: Mapping[str, Any], task: TaskRef) -> str | None:
    """The sandbox directory of ``task`` in an agent's ``/state``."""
    frameworks = [
        *agent_state.get("frameworks", []),
        *agent_state.get("completed_frameworks", []),
    ]
    found: str | None = None
    for fw in frameworks:
        if not isinstance(fw, dict):
            continue
        for key in ("executors", "completed_executors"):
            for ex in fw.get(key, []) or []:
                if not isinstance(ex, dict):
                    continue
                ids = {ex.get("id")} | {
                    t.get("id")
                    for k in ("tasks", "completed_tasks", "queued_tasks")
                    for t in ex.get(k, []) or []
                    if isinstance(t, dict)
                }
                if task.task_id in ids and isinstance(ex.get("directory"), str):
                    found = ex["directory"]  # the latest run wins
    return found


def start_offset(text: str, text_start: int, lines: int, at_file_start: bool) -> int | None:
    """Where the last ``lines`` lines begin, given the file's tail ``text`` from byte
    ``text_start``; None when ``text`` holds fewer lines (read further back).

    A final line without its newline counts as a line.

    >>> start_offset("a\\nb\\nc\\n", 0, 2, True)
    2
    >>> start_offset("b\\nc\\n", 10, 5, False) is None
    True
    >>> start_offset("b\\nc\\n", 10, 5, True)
    10
    >>> start_offset("x\\n", 0, 0, True)
    2
    """
    data = text.encode("utf-8")
    end = len(data)
    if lines <= 0:
        return text_start + end
    pos = end - 1 if data.endswith(b"\n") else end
    for _ in range(lines):
        cut = data.rfind(b"\n", 0, pos)
        if cut < 0:
            return text_start if at_file_start else None
        pos = cut
    return text_start + pos + 1


class LogReader:
    """Reads one sandbox file through an agent's files API."""

    def __init__(self, cluster: Cluster, agent_url: str, path: str) -> None:
        self.cluster = cluster
        self.agent_url = agent_url
        self.path = path

    def read(self, offset: int, length: int) -> tuple[str, int]:
        data = self.cluster.http.json(
            "GET",
            build_url(
                self.agent_url,
                "/files/read",
                {"path": self.path, "offset": offset, "length": length},
            ),
        )
        if not isinstance(data, dict):
            raise ClientError("the agent's files API answered something unexpected")
        return str(data.get("data", "")), int(data.get("offset", offset))

    def size(self) -> int:
        return self.read(-1, -1)[1]

    def tail_offset(self, lines: int, size: int) -> int:
        """The offset the last ``lines`` lines before byte ``size`` start at."""
        back = CHUNK
        while True:
            start = max(0, size - back)
            text = self.read_span(start, size)
            found = start_offset(text, start, lines, start == 0)
            if found is not None:
                return found
            back *= 2

    def read_span(self, start: int, end: int) -> str:
        parts = []
        offset = start
        while offset < end:
            text, _ = self.read(offset, min(CHUNK, end - offset))
            if not text:
                break
            parts.append(text)
            offset += len(text.encode("utf-8"))
        return "".join(parts)

    def copy(
        self,
        offset: int,
        write: Callable[[str], None],
        *,
        end: int | None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Write the file from ``offset`` up to ``end``; with no ``end``, follow it: keep
        waiting for more. (A fixed end means a task that writes fast cannot keep a plain
        read going forever, and ``--lines N`` prints N lines.)
        """
        follow = end is None
        while end is None or offset < end:
            length = CHUNK if end is None else min(CHUNK, end - offset)
            text, at = self.read(offset, length)
            if at < offset:
                offset = 0  # the file was truncated: start again from its beginning
                continue
            if text:
                write(text)
                offset = at + len(text.encode("utf-8"))
                continue
            if not follow:
                return
            sleep(FOLLOW_INTERVAL)


def show_log(cluster: Cluster, wanted: str, *, stderr: bool, lines: int, follow: bool) -> None:
    task = find_task(cluster, wanted)
    if not task.agent_id:
        raise ClientError(f"task {task.task_id} has not been placed on an agent yet")
    agent_url = cluster.agent_url(task.agent_id)
    agent_state = cluster.http.json("GET", build_url(agent_url, "/state"))
    directory = sandbox_of(agent_state if isinstance(agent_state, dict) else {}, task)
    if directory is None:
        raise ClientError(f"agent {task.agent_id} no longer has the sandbox of task {task.task_id}")
    reader = LogReader(cluster, agent_url, f"{directory}/{'stderr' if stderr else 'stdout'}")

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    size = reader.size()
    reader.copy(reader.tail_offset(lines, size), write, end=None if follow else size)
