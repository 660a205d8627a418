"""The Mesos v1 scheduler HTTP API: ``POST /api/v1/scheduler``.

This module is the edge: it checks each call in the order Mesos does (reference/mesos.md,
section a), turns problems into the status codes and plain-text bodies Mesos uses, and
hands well-formed calls to ``Master``. SUBSCRIBE answers with an endless RecordIO stream.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from berth.core import recordio
from berth.core.errors import (
    BerthError,
    Forbidden,
    InvalidInput,
    NotAcceptable,
    NotImplementedCall,
    UnsupportedMediaType,
)
from berth.core.jsonutil import JSON, dumps, id_value, loads
from berth.master import events
from berth.master.master import Master, SubscribeRefused, decode_uuid
from berth.master.registry import EventStream, Framework

log = logging.getLogger(__name__)

CALL_TYPES = frozenset(
    {
        "SUBSCRIBE",
        "TEARDOWN",
        "ACCEPT",
        "DECLINE",
        "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS",
        "REVIVE",
        "KILL",
        "SHUTDOWN",
        "ACKNOWLEDGE",
        "ACKNOWLEDGE_OPERATION_STATUS",
        "RECONCILE",
        "RECONCILE_OPERATIONS",
        "MESSAGE",
        "REQUEST",
        "SUPPRESS",
        "UPDATE_FRAMEWORK",
    }
)

STREAM_ID_HEADER = "Mesos-Stream-Id"


def _require_object(obj: JSON, key: str, call_type: str) -> JSON:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise InvalidInput(f"Expecting '{key}' to be present for a {call_type} call")
    return value


def _id_field(obj: JSON, key: str, where: str) -> str:
    value = id_value(obj.get(key))
    if value is None:
        raise InvalidInput(f"'{where}.{key}' is required and must be an object with a 'value'")
    return value


def _optional_id(obj: JSON, key: str) -> str | None:
    if obj.get(key) is None:
        return None
    value = id_value(obj.get(key))
    if value is None:
        raise InvalidInput(f"'{key}' must be an object with a string 'value'")
    return value


def _refuse_seconds(payload: JSON) -> float | None:
    filters = payload.get("filters")
    if filters is None:
        return None
    if not isinstance(filters, dict):
        raise InvalidInput("'filters' must be an object")
    value = filters.get("refuse_seconds")
    if value is None:
        return None
    if value == "Infinity":
        return math.inf
    if isinstance(value, bool):
        raise InvalidInput("'filters.refuse_seconds' must be a number")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InvalidInput("'filters.refuse_seconds' must be a number") from None
    if math.isnan(seconds):
        raise InvalidInput("'filters.refuse_seconds' must be a number")
    return seconds


def _offer_ids(payload: JSON, key: str = "offer_ids") -> list[str]:
    raw = payload.get(key, [])
    if not isinstance(raw, list):
        raise InvalidInput(f"'{key}' must be a list of offer ids")
    ids: list[str] = []
    for i, item in enumerate(raw):
        value = id_value(item)
        if value is None:
            raise InvalidInput(f"'{key}[{i}]' must be an object with a string 'value'")
        ids.append(value)
    return ids


def _roles(payload: JSON | None) -> list[str] | None:
    if payload is None:
        return None
    roles = payload.get("roles")
    if roles is None:
        return None
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidInput("'roles' must be a list of strings")
    return list(roles) or None


def _check_operations(operations: Any) -> list[JSON]:
    """Required fields of offer operations (a missing one fails the whole call, as in Mesos)."""
    if operations is None:
        return []
    if not isinstance(operations, list):
        raise InvalidInput("'accept.operations' must be a list")
    for i, op in enumerate(operations):
        where = f"accept.operations[{i}]"
        if not isinstance(op, dict) or not isinstance(op.get("type"), str):
            raise InvalidInput(f"'{where}.type' is required")
        if op["type"] == "LAUNCH":
            launch = op.get("launch")
            if not isinstance(launch, dict):
                raise InvalidInput(f"'{where}.launch' is required for a LAUNCH operation")
            infos = launch.get("task_infos", [])
            if not isinstance(infos, list):
                raise InvalidInput(f"'{where}.launch.task_infos' must be a list")
            for j, info in enumerate(infos):
                tw = f"{where}.launch.task_infos[{j}]"
                if not isinstance(info, dict):
                    raise InvalidInput(f"'{tw}' must be an object")
                if not isinstance(info.get("name"), str):
                    raise InvalidInput(f"'{tw}.name' is required")
                _id_field(info, "task_id", tw)
                _id_field(info, "agent_id", tw)
                if not isinstance(info.get("resources", []), list):
                    raise InvalidInput(f"'{tw}.resources' must be a list")
    return operations


def _accepts_json(accept: str | None) -> bool:
    if accept is None:
        return True
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("application/json", "*/*", "application/*", ""):
            return True
    return False


def _error(e: BerthError) -> PlainTextResponse:
    return PlainTextResponse(e.message, status_code=e.status)


class SchedulerApi:
    def __init__(self, master: Master) -> None:
        self.master = master

    def router(self) -> APIRouter:
        router = APIRouter()
        methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
        for path in ("/api/v1/scheduler", "/master/api/v1/scheduler"):
            router.add_api_route(path, self.handle, methods=methods, include_in_schema=False)
        return router

    async def handle(self, request: Request) -> Response:
        if request.method != "POST":
            return PlainTextResponse(
                f"Expecting 'POST', received '{request.method}'",
                status_code=405,
                headers={"Allow": "POST"},
            )
        try:
            call = await self._parse(request)
            if call["type"] == "SUBSCRIBE":
                return self._subscribe(request, call)
            self._dispatch(request, call)
        except BerthError as e:
            return _error(e)
        return Response(status_code=202)

    async def _parse(self, request: Request) -> JSON:
        content_type = request.headers.get("content-type")
        if not content_type:
            raise InvalidInput("Expecting 'Content-Type' to be present")
        media = content_type.split(";")[0].strip().lower()
        if media == "application/x-protobuf":
            raise UnsupportedMediaType(
                "Berth speaks the JSON form of the scheduler API: use 'application/json'"
            )
        if media != "application/json":
            raise UnsupportedMediaType(
                f"Expecting 'Content-Type' of application/json or application/x-protobuf, "
                f"got '{content_type}'"
            )
        body = await request.body()
        try:
            call = loads(body)
        except ValueError as e:
            raise InvalidInput(f"Failed to parse body into JSON: {e}") from None
        if not isinstance(call, dict):
            raise InvalidInput("Failed to convert JSON into Call protobuf: expecting a JSON object")
        call_type = call.get("type")
        if call_type is None:
            raise InvalidInput("Expecting 'type' to be present")
        if call_type == "UNKNOWN":
            raise NotImplementedCall("Received an unexpected 'UNKNOWN' call")
        if call_type not in CALL_TYPES:
            raise InvalidInput(
                f"Failed to convert JSON into Call protobuf: unknown call type {call_type!r}"
            )
        return call

    # ------------------------------------------------------------------ SUBSCRIBE

    def _subscribe(self, request: Request, call: JSON) -> Response:
        if not _accepts_json(request.headers.get("accept")):
            raise NotAcceptable("Expecting 'Accept' to allow application/json")
        if STREAM_ID_HEADER.lower() in request.headers:
            raise InvalidInput("Subscribe calls should not include the 'Mesos-Stream-Id' header")
        subscribe = _require_object(call, "subscribe", "SUBSCRIBE")
        info = subscribe.get("framework_info")
        if not isinstance(info, dict):
            raise InvalidInput("'subscribe.framework_info' is required")
        for key in ("user", "name"):
            if not isinstance(info.get(key), str):
                raise InvalidInput(f"'subscribe.framework_info.{key}' is required")
        info_id = _optional_id(info, "id")
        call_id = _optional_id(call, "framework_id")
        if call_id != info_id:
            raise InvalidInput("'framework_id' differs from 'subscribe.framework_info.id'")
        suppressed = subscribe.get("suppressed_roles", [])
        if not isinstance(suppressed, list) or not all(isinstance(r, str) for r in suppressed):
            raise InvalidInput("'subscribe.suppressed_roles' must be a list of strings")
        try:
            fw, stream = self.master.subscribe(info, call_id, suppressed)
        except SubscribeRefused as e:
            return self._refused_stream(str(e))
        heartbeat = self.master.config.heartbeat_interval
        return StreamingResponse(
            self._events(request, fw, stream, heartbeat),
            media_type="application/json",
            headers={STREAM_ID_HEADER: stream.id, "Cache-Control": "no-cache"},
        )

    @staticmethod
    def _refused_stream(message: str) -> Response:
        # A refused but well-formed SUBSCRIBE is a 200 with one ERROR event.
        async def one() -> AsyncIterator[bytes]:
            yield recordio.encode(dumps(events.error(message)))

        return StreamingResponse(one(), media_type="application/json")

    async def _events(
        self, request: Request, fw: Framework, stream: EventStream, heartbeat: float
    ) -> AsyncIterator[bytes]:
        heartbeat_record = recordio.encode(dumps(events.HEARTBEAT))
        # The server only notices a vanished client when a write fails; watch the
        # connection so a framework that goes away is disconnected at once.
        watcher = asyncio.create_task(self._watch_disconnect(request, fw, stream))
        try:
            while True:
                try:
                    item = await asyncio.wait_for(stream.queue.get(), heartbeat)
                except TimeoutError:
                    yield heartbeat_record
                    continue
                if item is None:
                    return
                yield item
        finally:
            watcher.cancel()
            self.master.framework_disconnected(fw.id, stream)

    async def _watch_disconnect(self, request: Request, fw: Framework, stream: EventStream) -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                self.master.framework_disconnected(fw.id, stream)
                return

    # ------------------------------------------------------------------ other calls

    def _framework(self, request: Request, call: JSON) -> Framework:
        framework_id = id_value(call.get("framework_id"))
        if framework_id is None:
            raise InvalidInput("Expecting 'framework_id' to be present")
        fw = self.master.frameworks.get(framework_id)
        if fw is None:
            raise InvalidInput("Framework cannot be found")
        if not fw.connected or fw.stream is None:
            raise Forbidden("Framework is not subscribed")
        stream_id = request.headers.get(STREAM_ID_HEADER)
        if stream_id is None:
            raise InvalidInput(
                "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
            )
        if stream_id != fw.stream.id:
            raise InvalidInput(
                f"The stream ID '{stream_id}' included in this request didn't match the stream "
                f"ID currently associated with framework ID {fw.id}"
            )
        return fw

    def _dispatch(self, request: Request, call: JSON) -> None:
        call_type: str = call["type"]
        fw = self._framework(request, call)
        master = self.master
        self.master.counters[f"messages_{call_type.lower()}"] += 1
        if call_type == "TEARDOWN":
            master.remove_framework(fw.id)
        elif call_type == "ACCEPT":
            accept = _require_object(call, "accept", call_type)
            offer_ids = _offer_ids(accept)
            operations = _check_operations(accept.get("operations"))
            master.accept(fw, offer_ids, operations, _refuse_seconds(accept))
        elif call_type == "DECLINE":
            decline = _require_object(call, "decline", call_type)
            master.decline(fw, _offer_ids(decline), _refuse_seconds(decline))
        elif call_type in ("ACCEPT_INVERSE_OFFERS", "DECLINE_INVERSE_OFFERS"):
            pass  # Berth makes no inverse offers (no maintenance windows yet).
        elif call_type == "REVIVE":
            revive = call.get("revive")
            master.revive(fw, _roles(revive if isinstance(revive, dict) else None))
        elif call_type == "SUPPRESS":
            suppress = call.get("suppress")
            master.suppress(fw, _roles(suppress if isinstance(suppress, dict) else None))
        elif call_type == "KILL":
            kill = _require_object(call, "kill", call_type)
            task_id = _id_field(kill, "task_id", "kill")
            master.kill(fw, task_id, _optional_id(kill, "agent_id"), kill.get("kill_policy"))
        elif call_type == "SHUTDOWN":
            shutdown = _require_object(call, "shutdown", call_type)
            _id_field(shutdown, "executor_id", "shutdown")
            _id_field(shutdown, "agent_id", "shutdown")
        elif call_type == "ACKNOWLEDGE":
            ack = _require_object(call, "acknowledge", call_type)
            agent_id = _id_field(ack, "agent_id", "acknowledge")
            task_id = _id_field(ack, "task_id", "acknowledge")
            master.acknowledge(fw, agent_id, task_id, decode_uuid(ack.get("uuid")))
        elif call_type == "RECONCILE":
            reconcile = _require_object(call, "reconcile", call_type)
            tasks = reconcile.get("tasks", [])
            if not isinstance(tasks, list):
                raise InvalidInput("'reconcile.tasks' must be a list")
            requested: list[tuple[str, str | None]] = []
            for i, t in enumerate(tasks):
                if not isinstance(t, dict):
                    raise InvalidInput(f"'reconcile.tasks[{i}]' must be an object")
                requested.append(
                    (_id_field(t, "task_id", f"reconcile.tasks[{i}]"), _optional_id(t, "agent_id"))
                )
            master.reconcile(fw, requested)
        elif call_type == "MESSAGE":
            message = _require_object(call, "message", call_type)
            _id_field(message, "agent_id", "message")
            _id_field(message, "executor_id", "message")
        elif call_type in ("REQUEST", "ACKNOWLEDGE_OPERATION_STATUS", "RECONCILE_OPERATIONS"):
            pass  # Accepted and ignored, as the built-in Mesos allocator does for REQUEST.
        elif call_type == "UPDATE_FRAMEWORK":
            update = _require_object(call, "update_framework", call_type)
            info = update.get("framework_info")
            if not isinstance(info, dict):
                raise InvalidInput("'update_framework.framework_info' is required")
            raise InvalidInput("UPDATE_FRAMEWORK is not supported yet; re-SUBSCRIBE instead")
