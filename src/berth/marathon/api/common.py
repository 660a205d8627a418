"""Shared pieces of the /v2 API: replies, errors in Marathon's shapes, query parsing."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from berth.core.errors import BerthError
from berth.core.jsonutil import dumps
from berth.marathon.models.errors import MarathonError, parse_json_body
from berth.marathon.models.pathid import PathId
from berth.marathon.orchestrator import AppLocked

NO_CACHE = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "0",
}

MAX_BODY = 1024 * 1024  # Marathon refuses larger app definitions too


def reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        dumps(data),
        status_code=status,
        media_type="application/json",
        headers={**NO_CACHE, **(headers or {})},
    )


def error(status: int, message: str, **extra: Any) -> Response:
    return reply({"message": message, **extra}, status)


def flag(request: Request, name: str, default: bool = False) -> bool:
    """Boolean query parameters, case-insensitively (python-requests sends ``True``)."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise BadQuery(f"Query parameter '{name}' must be true or false, not '{value}'")


class BadQuery(BerthError):
    status = 400


def app_path(raw: str) -> PathId:
    """An app or group id from the URL (``//`` and trailing slashes tolerated)."""
    return PathId.parse("/" + raw.strip("/"))


async def body(request: Request) -> object:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise PayloadTooLarge(f"Request body is {len(raw)} bytes; at most {MAX_BODY} are accepted")
    return parse_json_body(raw)


class PayloadTooLarge(BerthError):
    status = 413


def deployment_reply(plan_id: str, version: str, status: int = 200, **headers: str) -> Response:
    return reply(
        {"deploymentId": plan_id, "version": version},
        status,
        {"Marathon-Deployment-Id": plan_id, **headers},
    )


def install_error_handlers(app: FastAPI) -> None:
    async def marathon_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, MarathonError)
        return reply(exc.body(), exc.status)

    async def locked(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppLocked)
        return reply(
            {"message": exc.message, "deployments": [{"id": d} for d in exc.deployment_ids]},
            409,
        )

    async def berth_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BerthError)
        return error(exc.status, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return error(404, f"URI not found: {request.url.path}")
        if exc.status_code == 405:
            return error(405, f"Method {request.method} is not allowed on {request.url.path}")
        return error(exc.status_code, str(exc.detail))

    async def validation(request: Request, exc: Exception) -> Response:
        return error(400, str(exc))

    app.add_exception_handler(AppLocked, locked)
    app.add_exception_handler(MarathonError, marathon_error)
    app.add_exception_handler(BerthError, berth_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation)
