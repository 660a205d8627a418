"""Marathon's connection to the master: a Mesos v1 HTTP scheduler client.

Marathon is an ordinary framework: it subscribes over ``POST /api/v1/scheduler`` like any
other, keeps the RecordIO event stream open, and sends calls on a second connection with
the ``Mesos-Stream-Id`` the subscription returned. When the stream breaks it re-subscribes
with its framework id, with backoff, forever.

``SchedulerClient.run`` delivers every event to ``on_event`` in order, on the caller's
loop; calls are coroutines that raise ``MasterError`` when the master refuses them.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from berth.core import recordio
from berth.core.jsonutil import JSON, dumps, id_of, id_value, loads

log = logging.getLogger(__name__)

MAX_BACKOFF = 5.0


class MasterError(Exception):
    """The master answered a call with a non-2xx status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


def scheduler_url(master: str) -> str:
    """``host:port`` -> the scheduler endpoint.

    >>> scheduler_url("127.0.0.1:5050")
    'http://127.0.0.1:5050/api/v1/scheduler'
    """
    address = master.strip().removeprefix("http://").rstrip("/")
    if ":" not in address:
        address += ":5050"
    return f"http://{address}/api/v1/scheduler"


class SchedulerClient:
    def __init__(
        self,
        master: str,
        framework_info: JSON,
        *,
        on_event: Callable[[JSON], Awaitable[None]],
        on_subscribed: Callable[[str], Awaitable[None]],
    ) -> None:
        self.url = scheduler_url(master)
        self.framework_info = dict(framework_info)
        self.framework_id: str | None = id_value(framework_info.get("id"))
        self.stream_id: str | None = None
        self.connected = asyncio.Event()
        self._on_event = on_event
        self._on_subscribed = on_subscribed
        self._session: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        """Stay subscribed until cancelled."""
        backoff = random.uniform(0.0, 0.3)
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)
        ) as session:
            self._session = session
            while True:
                try:
                    await self._subscribe_once(session)
                    backoff = random.uniform(0.0, 0.3)
                except (aiohttp.ClientError, OSError, TimeoutError, recordio.RecordIOError) as e:
                    log.info("master at %s: %s", self.url, e)
                except MasterError as e:
                    log.warning("master refused the subscription: %s", e)
                finally:
                    self.connected.clear()
                    self.stream_id = None
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF, max(0.2, backoff * 2))

    async def _subscribe_once(self, session: aiohttp.ClientSession) -> None:
        info = dict(self.framework_info)
        body: JSON = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if self.framework_id:
            info["id"] = id_of(self.framework_id)
            body["framework_id"] = id_of(self.framework_id)
        async with session.post(
            self.url,
            data=dumps(body),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            # A silent stream (no heartbeat for this long) is a dead one.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60),
        ) as response:
            if response.status != 200:
                raise MasterError(response.status, (await response.text())[:500])
            self.stream_id = response.headers.get("Mesos-Stream-Id")
            decoder = recordio.Decoder()
            async for chunk in response.content.iter_any():
                for record in decoder.feed(chunk):
                    event = loads(record)
                    if not isinstance(event, dict):
                        continue
                    await self._dispatch(event)

    async def _dispatch(self, event: JSON) -> None:
        kind = event.get("type")
        if kind == "SUBSCRIBED":
            framework_id = id_value(event.get("subscribed", {}).get("framework_id"))
            if framework_id is None:
                raise MasterError(200, "SUBSCRIBED without a framework id")
            self.framework_id = framework_id
            self.connected.set()
            await self._on_subscribed(framework_id)
        elif kind == "ERROR":
            message = str(event.get("error", {}).get("message", ""))
            log.error("master sent ERROR: %s", message)
            if message == "Framework has been removed":
                # Our framework id is gone for good: start over as a new framework.
                self.framework_id = None
            raise MasterError(200, message)
        if kind != "HEARTBEAT":
            await self._on_event(event)

    # ------------------------------------------------------------------ calls

    async def call(self, body: JSON) -> None:
        if self._session is None or self.framework_id is None or self.stream_id is None:
            raise MasterError(503, "not subscribed")
        payload = {"framework_id": id_of(self.framework_id), **body}
        async with self._session.post(
            self.url,
            data=dumps(payload),
            headers={"Content-Type": "application/json", "Mesos-Stream-Id": self.stream_id},
            timeout=aiohttp.ClientTimeout(total=30),
        ) as response:
            if response.status // 100 != 2:
                raise MasterError(response.status, (await response.text())[:500])

    async def accept(
        self, offer_ids: Sequence[str], task_infos: Sequence[JSON], refuse_seconds: float
    ) -> None:
        operations = [{"type": "LAUNCH", "launch": {"task_infos": list(task_infos)}}]
        await self.call(
            {
                "type": "ACCEPT",
                "accept": {
                    "offer_ids": [id_of(o) for o in offer_ids],
                    "operations": operations if task_infos else [],
                    "filters": {"refuse_seconds": refuse_seconds},
                },
            }
        )

    async def decline(self, offer_ids: Sequence[str], refuse_seconds: float) -> None:
        await self.call(
            {
                "type": "DECLINE",
                "decline": {
                    "offer_ids": [id_of(o) for o in offer_ids],
                    "filters": {"refuse_seconds": refuse_seconds},
                },
            }
        )

    async def revive(self) -> None:
        await self.call({"type": "REVIVE"})

    async def suppress(self) -> None:
        await self.call({"type": "SUPPRESS"})

    async def kill(self, task_id: str, agent_id: str | None, grace_seconds: float | None) -> None:
        kill: JSON = {"task_id": id_of(task_id)}
        if agent_id:
            kill["agent_id"] = id_of(agent_id)
        if grace_seconds is not None:
            kill["kill_policy"] = {"grace_period": {"nanoseconds": int(grace_seconds * 1e9)}}
        await self.call({"type": "KILL", "kill": kill})

    async def acknowledge(self, status: JSON) -> None:
        await self.call(
            {
                "type": "ACKNOWLEDGE",
                "acknowledge": {
                    "agent_id": status["agent_id"],
                    "task_id": status["task_id"],
                    "uuid": status["uuid"],
                },
            }
        )

    async def reconcile(self, tasks: Sequence[tuple[str, str | None]] = ()) -> None:
        items: list[dict[str, Any]] = []
        for task_id, agent_id in tasks:
            item: JSON = {"task_id": id_of(task_id)}
            if agent_id:
                item["agent_id"] = id_of(agent_id)
            items.append(item)
        await self.call({"type": "RECONCILE", "reconcile": {"tasks": items}})
