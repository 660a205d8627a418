"""The agent's ``/files`` endpoints: read, browse and download sandbox files, Mesos style.

Clients: the DC/OS CLI (``dcos task log`` tails with ``read.json?offset=-1`` then reads
forward), the Mesos and Berth web UIs (browse + download) and scripts. Every endpoint is
also served under its old ``.json`` spelling. Bodies of errors are plain text, as Mesos
writes them; no query string can produce a 5xx.

Which files are served is decided in ``sandbox`` (``open_within``): absolute paths inside
one of ``roots()`` (asked anew on every request, since sandboxes come and go) or under a
virtual mount such as ``/slave/log``. A path that resolves outside them, even through a
symlink a task planted in its sandbox, is refused with 403; a path inside that does not
exist is 404.

Status codes (Mesos's, where Mesos has one):

| endpoint | 400 | 403 | 404 |
|---|---|---|---|
| read | no path; offset/length not an integer or < -1; a directory | outside | missing |
| browse | no path | outside | missing, not a directory |
| download | no path; a directory | outside | missing |
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import re
import stat
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from berth.agent.sandbox import is_within, normalize_request_path, open_within
from berth.core.errors import BerthError, InvalidInput, NotFound
from berth.core.jsonutil import dumps

# Mesos caps one read at 16 pages; with 4 KiB pages that is 64 KiB. A fixed number keeps
# clients' paging identical on every machine.
READ_CAP = 64 * 1024
_DOWNLOAD_CHUNK = 256 * 1024

_NO_MOUNTS: Mapping[str, Path] = MappingProxyType({})
_INTEGER = re.compile(r"[+-]?[0-9]+")
# JSONP callbacks are echoed into a script body: allow names only, never markup.
_JSONP_CALLBACK = re.compile(r"[A-Za-z_$][A-Za-z0-9_$.]{0,127}")

Roots = Callable[[], Sequence[Path]]
_Handler = Callable[[Request], Awaitable[Response]]


def files_router(roots: Roots, *, virtual: Mapping[str, Path] = _NO_MOUNTS) -> APIRouter:
    """Routes ``/files/{read,browse,download,debug}`` (and their ``.json`` spellings).

    ``roots`` returns the directories currently served (the sandboxes, or the whole
    work dir); ``virtual`` maps extra absolute names to real files or directories.

    >>> app.include_router(files_router(lambda: [work_dir], virtual={"/slave/log": log}))
    ... # doctest: +SKIP
    """
    mounts = {normalize_request_path(k): Path(v) for k, v in virtual.items()}
    files = _Files(roots, mounts)
    router = APIRouter()
    endpoints: list[tuple[str, _Handler, str]] = [
        ("read", files.read, "Read up to 64 KiB of a file at an offset"),
        ("browse", files.browse, "List a directory"),
        ("download", files.download, "Download a file"),
        ("debug", files.debug, "The virtual path mapping"),
    ]
    for name, handler, summary in endpoints:
        endpoint = _guarded(handler)
        router.add_api_route(f"/files/{name}", endpoint, methods=["GET"], summary=summary)
        router.add_api_route(
            f"/files/{name}.json", endpoint, methods=["GET"], include_in_schema=False
        )
    return router


class _Files:
    def __init__(self, roots: Roots, mounts: Mapping[str, Path]) -> None:
        self._roots = roots
        self._mounts = mounts

    async def read(self, request: Request) -> Response:
        query = request.query_params
        jsonp = _jsonp(query.get("jsonp"))
        path = _required_path(query.get("path"))
        offset = _integer(query.get("offset"), "offset")
        length = _integer(query.get("length"), "length")
        roots = tuple(self._roots())
        result = await asyncio.to_thread(_read, roots, self._mounts, path, offset, length)
        return _json(result, jsonp)

    async def browse(self, request: Request) -> Response:
        query = request.query_params
        jsonp = _jsonp(query.get("jsonp"))
        path = _required_path(query.get("path"))
        roots = tuple(self._roots())
        listing = await asyncio.to_thread(_browse, roots, self._mounts, path)
        return _json(listing, jsonp)

    async def download(self, request: Request) -> Response:
        path = _required_path(request.query_params.get("path"))
        roots = tuple(self._roots())
        fd, real, size = await asyncio.to_thread(_open_for_download, roots, self._mounts, path)
        return _FileDownload(fd, size, real.name)

    async def debug(self, request: Request) -> Response:
        jsonp = _jsonp(request.query_params.get("jsonp"))
        # Mesos attaches every sandbox under its own real path; show those too.
        mapping = {str(r): str(r) for r in self._roots()}
        mapping.update({k: str(v) for k, v in self._mounts.items()})
        return _json(mapping, jsonp)


# --------------------------------------------------------------------------------------
# Query parsing


def _required_path(value: str | None) -> str:
    if not value:
        raise InvalidInput("Expecting 'path=value' in query")
    return value


def _integer(value: str | None, name: str) -> int:
    """A Mesos offset/length: absent means -1 (offset: the end; length: to the end)."""
    if value is None:
        return -1
    number: int | None = None
    if _INTEGER.fullmatch(value):
        try:
            number = int(value)
        except ValueError:  # beyond Python's digit limit for int()
            number = None
    if number is None:
        raise InvalidInput(f"Failed to parse {name}: {value[:64]!r} is not a number")
    if number < -1:
        raise InvalidInput(f"Negative {name} provided: {number}")
    return number


def _jsonp(value: str | None) -> str | None:
    if value is None:
        return None
    if not _JSONP_CALLBACK.fullmatch(value):
        raise InvalidInput(f"Invalid jsonp callback: {value[:64]!r}")
    return value


# --------------------------------------------------------------------------------------
# File work (runs in a worker thread: disks can be slow)


def _read(
    roots: Sequence[Path], mounts: Mapping[str, Path], path: str, offset: int, length: int
) -> dict[str, Any]:
    fd, _, _ = open_within(roots, path, virtual=mounts)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise InvalidInput("Cannot read a directory")
        if not stat.S_ISREG(st.st_mode):
            raise InvalidInput("Cannot read a special file")
        size = st.st_size
        # offset -1 asks for the size only (how clients start tailing); past the end
        # there is nothing to read, and Mesos then reports the size so a client that
        # raced a truncation can start over.
        if offset == -1 or offset >= size:
            return {"data": "", "offset": size}
        wanted = size - offset if length == -1 else length
        wanted = min(wanted, READ_CAP)
        data = os.pread(fd, wanted, offset) if wanted > 0 else b""
    finally:
        os.close(fd)
    # Logs are text but tasks may write anything; never fail on undecodable bytes.
    return {"data": data.decode("utf-8", "replace"), "offset": offset}


def _browse(roots: Sequence[Path], mounts: Mapping[str, Path], path: str) -> list[dict[str, Any]]:
    fd, real, allowed = open_within(roots, path, virtual=mounts)
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            raise NotFound(f"{path!r} is not a directory")
        with os.scandir(fd) as it:
            names = sorted(entry.name for entry in it)
    finally:
        os.close(fd)
    shown = normalize_request_path(path)
    listing = []
    for name in names:
        st = _entry_stat(real / name, allowed)
        if st is None:
            continue  # vanished between listing and stat
        listing.append(
            {
                # A task may create names that are not UTF-8; show them readably
                # rather than fail the whole listing.
                "path": posixpath.join(shown, os.fsencode(name).decode("utf-8", "replace")),
                "nlink": st.st_nlink,
                "size": st.st_size,
                "mtime": st.st_mtime,
                "mode": stat.filemode(st.st_mode),
                "uid": _user_name(st.st_uid),
                "gid": _group_name(st.st_gid),
            }
        )
    return listing


def _entry_stat(entry: Path, allowed: Sequence[Path]) -> os.stat_result | None:
    """Like Mesos, describe what a symlink points to, but only when that is servable:
    a link to ``/etc/shadow`` is shown as the link itself, never as the shadow file."""
    try:
        st = os.lstat(entry)
        if stat.S_ISLNK(st.st_mode):
            target = Path(os.path.realpath(entry))
            if is_within(target, allowed):
                return os.stat(target)
        return st
    except OSError:
        return None


def _open_for_download(
    roots: Sequence[Path], mounts: Mapping[str, Path], path: str
) -> tuple[int, Path, int]:
    fd, real, _ = open_within(roots, path, virtual=mounts)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise InvalidInput("Cannot download a directory")
        if not stat.S_ISREG(st.st_mode):
            raise InvalidInput("Cannot download a special file")
    except BaseException:
        os.close(fd)
        raise
    return fd, real, st.st_size


@lru_cache(maxsize=256)
def _user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@lru_cache(maxsize=256)
def _group_name(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


# --------------------------------------------------------------------------------------
# Responses


def _guarded(handler: _Handler) -> _Handler:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except BerthError as e:
            return Response(f"{e.message}.\n", status_code=e.status, media_type="text/plain")

    return endpoint


def _json(value: Any, jsonp: str | None) -> Response:
    body = dumps(value)
    if jsonp is None:
        return Response(body, media_type="application/json")
    return Response(jsonp.encode() + b"(" + body + b");", media_type="text/javascript")


def _content_disposition(filename: str) -> str:
    quoted = urllib.parse.quote(filename)
    if quoted == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*=utf-8''{quoted}"


class _FileDownload(Response):
    """Streams an already opened (and containment-checked) file, then closes it.

    Streaming from the descriptor rather than re-opening by path keeps the check and
    the bytes served about the same file. Only the size seen at open time is sent, so a
    log that grows meanwhile still matches its Content-Length.
    """

    media_type = "application/octet-stream"

    def __init__(self, fd: int, size: int, filename: str) -> None:
        self._fd = fd
        self._size = size
        super().__init__(
            None,
            headers={
                "content-length": str(size),
                "content-disposition": _content_disposition(filename),
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            sent = 0
            while sent < self._size:
                want = min(_DOWNLOAD_CHUNK, self._size - sent)
                chunk = await asyncio.to_thread(os.pread, self._fd, want, sent)
                if not chunk:
                    break  # truncated under us; the client sees a short body
                sent += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            # If a disconnect cancelled us mid-read, the worker thread may still be in
            # pread on this descriptor; that read is discarded and can do no harm.
            os.close(self._fd)
