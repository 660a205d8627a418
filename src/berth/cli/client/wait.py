"""``--wait`` and ``deployment watch``: follow deployments to their end, with a progress bar.

The order matters: `EventFeed` subscribes to ``/v2/events`` first, *then* the change is
made (or the deployment looked up), so the deployment's events cannot slip by before
anyone listens. Events are read by a daemon thread into a queue; the command folds them
(``progress.apply``) and draws the bar on stderr, keeping stdout for the final state.

``/v2/deployments`` is also polled now and then (every second when the event stream is
not available, e.g. behind a proxy that buffers): a deployment gone from it without a
final event is taken as finished, since marathon forgets a deployment only once done.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from berth.cli.client import progress
from berth.cli.client.context import Cluster
from berth.cli.client.errors import ClientError, DeploymentFailed, TimedOut
from berth.cli.client.http import Reply
from berth.cli.client.sse import SseParser

DEFAULT_TIMEOUT = 600.0
_POLL_WITH_EVENTS = 5.0
_POLL_WITHOUT_EVENTS = 1.0
_CONNECT_WAIT = 5.0


class EventFeed:
    """Marathon's event stream, read in the background; `get` returns events in order."""

    def __init__(self, cluster: Cluster) -> None:
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._connected = threading.Event()
        self.alive = True
        url = cluster.endpoints.marathon + "/v2/events"
        self._lines = cluster.http.lines(url, {"Accept": "text/event-stream"})
        thread = threading.Thread(target=self._read, name="berth-events", daemon=True)
        thread.start()
        # Marathon writes event_stream_attached at once; waiting for that first line
        # means every later event of the change we are about to make will reach us.
        self._connected.wait(_CONNECT_WAIT)

    def _read(self) -> None:
        parser = SseParser()
        try:
            for line in self._lines:
                self._connected.set()
                event = parser.feed(line)
                if event is not None:
                    self._events.put(event)
        except ClientError:
            pass
        finally:
            self.alive = False
            self._connected.set()
            self._events.put(None)

    def get(self, timeout: float) -> dict[str, Any] | None:
        """The next event, or None when none came within ``timeout`` seconds."""
        if not self.alive and self._events.empty():
            time.sleep(timeout)
            return None
        try:
            return self._events.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None


def deployment_id_of(reply: Reply) -> str | None:
    """The deployment a change started: the header, else the body's fields."""
    header = reply.headers.get("marathon-deployment-id")
    if header:
        return header
    body = reply.json()
    if isinstance(body, dict):
        if isinstance(body.get("deploymentId"), str):
            return str(body["deploymentId"])
        deployments = body.get("deployments")
        if isinstance(deployments, list) and deployments and isinstance(deployments[0], dict):
            value = deployments[0].get("id")
            return str(value) if value else None
    return None


def running_deployments(cluster: Cluster) -> list[dict[str, Any]]:
    data = cluster.marathon("GET", "/v2/deployments")
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def _seed(cluster: Cluster, watch: progress.Watch) -> progress.Watch:
    """Each affected app's target and running tasks now (events only tell changes)."""
    for app_id in sorted(watch.apps):
        app = cluster.app_or_none(app_id)
        if app is None:
            continue
        tasks = app.get("tasks")
        ids = [
            str(t["id"])
            for t in (tasks if isinstance(tasks, list) else [])
            if isinstance(t, dict) and t.get("state") == "TASK_RUNNING" and "id" in t
        ]
        instances = app.get("instances")
        watch = progress.seed_app(
            watch, app_id, instances if isinstance(instances, int) else 0, ids
        )
    return watch


class _Display:
    """A rich progress bar on a terminal; elsewhere, a line whenever the state changes."""

    def __init__(self, watches: Sequence[progress.Watch]) -> None:
        self._tty = sys.stderr.isatty()
        self._last: dict[str, str] = {}
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        if self._tty:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.fields[name]}"),
                BarColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.start()
            for w in watches:
                name = f"deployment {w.deployment_id[:8]}"
                self._tasks[w.deployment_id] = self._bar.add_task(
                    progress.describe(w), total=1.0, name=name
                )
        self.update(watches)

    def update(self, watches: Sequence[progress.Watch]) -> None:
        for w in watches:
            text = progress.describe(w)
            if self._bar is not None:
                self._bar.update(
                    self._tasks[w.deployment_id], completed=progress.fraction(w), description=text
                )
            elif self._last.get(w.deployment_id) != text:
                self._last[w.deployment_id] = text
                print(f"deployment {w.deployment_id}: {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def follow(
    cluster: Cluster,
    feed: EventFeed,
    watches: Sequence[progress.Watch],
    timeout: float,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> list[progress.Watch]:
    """Fold events into ``watches`` until every one has ended or ``timeout`` passes."""
    current = {w.deployment_id: _seed(cluster, w) for w in watches}
    deadline = clock() + timeout
    next_poll = clock() + (_POLL_WITH_EVENTS if feed.alive else _POLL_WITHOUT_EVENTS)
    display = _Display(list(current.values()))
    try:
        while not all(w.done for w in current.values()):
            now = clock()
            if now >= deadline:
                break
            event = feed.get(min(0.5, deadline - now, max(0.0, next_poll - now)))
            if event is not None:
                current = {k: progress.apply(w, event) for k, w in current.items()}
            if clock() >= next_poll:
                live = {d.get("id") for d in running_deployments(cluster)}
                for k, w in current.items():
                    if not w.done and k not in live:
                        current[k] = progress.apply(w, {"eventType": "deployment_success", "id": k})
                next_poll = clock() + (_POLL_WITH_EVENTS if feed.alive else _POLL_WITHOUT_EVENTS)
            display.update(list(current.values()))
    finally:
        display.close()
    return list(current.values())


def report(
    cluster: Cluster,
    watches: Sequence[progress.Watch],
    timeout: float,
    apps: Sequence[str] = (),
) -> None:
    """Print the final state of each app the deployments changed (and of ``apps``);
    raise when a deployment failed or is late."""
    shown = set(apps)
    for w in watches:
        shown |= w.apps
    queued: dict[str, Any] | None = None
    for app_id in sorted(shown):
        app = cluster.app_or_none(app_id)
        if app is None:
            print(f"{app_id}: removed", flush=True)
            continue
        line = progress.app_state_line(app)
        if app.get("tasksRunning", 0) < app.get("instances", 0):
            queued = queued if queued is not None else cluster.queue_items()
            reasons = progress.waiting_reasons(queued.get(app_id))
            if reasons:
                line += "; waiting, offers turned down: " + "; ".join(reasons)
        print(line, flush=True)
    failed = [w for w in watches if w.outcome == "failed"]
    if failed:
        w = failed[0]
        raise DeploymentFailed(
            f"deployment {w.deployment_id} failed" + (f": {w.reason}" if w.reason else "")
        )
    late = [w for w in watches if not w.done]
    if late:
        w = late[0]
        raise TimedOut(
            f"timed out after {timeout:g}s waiting for deployment {w.deployment_id} "
            f"({progress.describe(w)}); it goes on: follow it with "
            f"`berth deployment watch {w.deployment_id}`"
        )


def change(
    cluster: Cluster,
    make: Callable[[], Reply],
    *,
    wait: bool,
    timeout: float,
    what: str,
    apps: Sequence[str] = (),
) -> None:
    """Make a change that starts a deployment; with ``wait``, follow it to its end and
    print the final state of the apps it changed (and of ``apps``, which the command is
    about even when nothing needed to change)."""
    feed = EventFeed(cluster) if wait else None
    reply = make()
    deployment_id = deployment_id_of(reply)
    if deployment_id is None:
        print(what, flush=True)
        return
    if feed is None:
        print(
            f"{what}: deployment {deployment_id} "
            f"(follow it with `berth deployment watch {deployment_id}`)",
            flush=True,
        )
        return
    print(f"{what}: deployment {deployment_id}", file=sys.stderr, flush=True)
    start = next(
        (
            progress.from_deployment(d)
            for d in running_deployments(cluster)
            if d.get("id") == deployment_id
        ),
        progress.Watch(deployment_id),
    )
    watches = follow(cluster, feed, [start], timeout)
    report(cluster, watches, timeout, apps)
