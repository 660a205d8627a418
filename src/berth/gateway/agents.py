"""Which agent lives where: a short-lived cache of the master's state summary.

``/agent/<id>/…`` needs the agent's ``host:port``, and the DC/OS CLI's ``dcos node``
needs the master's hostname; both come from the master's ``/master/state-summary``.
The summary is kept for ``ttl`` seconds; an unknown agent id triggers a refresh (at most
one per ``miss_interval``, so a client asking for a bad id cannot make the gateway hammer
the master), and concurrent refreshes share one request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from berth.gateway.routes import parse_pid

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class MasterView:
    """What the gateway knows of the cluster from one state summary."""

    hostname: str
    agents: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Active frameworks by (lower-cased) name: the host their scheduler runs on.
    frameworks: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


def master_view(summary: JSON) -> MasterView:
    """Read a Mesos ``state-summary`` (or ``state``) document.

    An agent's address is the ``host:port`` of its pid, else ``hostname:port``.

    >>> v = master_view({"hostname": "m", "slaves": [
    ...     {"id": "S0", "pid": "slave(1)@10.0.0.5:5051"},
    ...     {"id": "S1", "hostname": "h1", "port": 5052}, {"id": "S2"}]})
    >>> v.hostname, dict(v.agents)
    ('m', {'S0': '10.0.0.5:5051', 'S1': 'h1:5052'})
    """
    agents: dict[str, str] = {}
    for slave in summary.get("slaves") or []:
        if not isinstance(slave, dict) or not isinstance(slave.get("id"), str):
            continue
        address = parse_pid(str(slave.get("pid", "")))
        if address is None and slave.get("hostname") and slave.get("port"):
            address = f"{slave['hostname']}:{slave['port']}"
        if address is not None:
            agents[slave["id"]] = address
    frameworks: dict[str, str] = {}
    for fw in summary.get("frameworks") or []:
        if (
            isinstance(fw, dict)
            and fw.get("active", True)
            and fw.get("name")
            and fw.get("hostname")
        ):
            frameworks.setdefault(str(fw["name"]).lower(), str(fw["hostname"]))
    return MasterView(
        str(summary.get("hostname", "")), MappingProxyType(agents), MappingProxyType(frameworks)
    )


class AgentDirectory:
    """Cached :class:`MasterView`; ``fetch`` reads the summary from the master (and raises
    when the master does not answer)."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[JSON]],
        *,
        ttl: float = 5.0,
        miss_interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._miss_interval = miss_interval
        self._clock = clock
        self._view: MasterView | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def view(self, *, max_age: float | None = None) -> MasterView:
        """The master's view, no older than ``max_age`` (default: the ttl)."""
        max_age = self._ttl if max_age is None else max_age
        if self._view is not None and self._clock() - self._fetched_at <= max_age:
            return self._view
        async with self._lock:
            # Someone else may have refreshed while we waited for the lock.
            if self._view is not None and self._clock() - self._fetched_at <= max_age:
                return self._view
            started = self._clock()
            view = master_view(await self._fetch())
            self._view, self._fetched_at = view, started
            return view

    async def address(self, agent_id: str) -> str | None:
        """The agent's ``host:port``, or None when the master does not know it."""
        view = await self.view()
        address = view.agents.get(agent_id)
        if address is None:
            view = await self.view(max_age=self._miss_interval)
            address = view.agents.get(agent_id)
        return address
