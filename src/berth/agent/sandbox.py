"""Task sandboxes: where a run's files live, and which files the agent may serve.

Layout (exactly as Mesos, so tools that know Mesos find the files)::

    <work_dir>/slaves/<agent_id>/frameworks/<framework_id>
        /executors/<executor_id>/runs/<container_id>/{stdout,stderr}
        /executors/<executor_id>/runs/latest -> <container_id>

For a command task the executor ID equals the task ID.

The second half of this module is the security boundary of the ``/files`` API:
``resolve_within`` and ``open_within`` turn a path from a query string into a file that
lies inside one of the served roots, or refuse. Tasks write their own sandboxes, so a
sandbox may hold symlinks to anywhere (``ln -s /etc x``); containment is therefore judged
on the fully resolved path, and re-checked on the opened descriptor so that swapping a
path component for a symlink between the check and the open does not help.
"""

from __future__ import annotations

import errno
import os
import posixpath
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from berth.core.errors import BerthError, Forbidden, InvalidInput, NotFound, Unavailable

LATEST = "latest"
STDOUT = "stdout"
STDERR = "stderr"


# --------------------------------------------------------------------------------------
# Layout


def validate_id(value: str, *, path: str) -> str:
    """Return ``value`` if it is safe as one path component, else raise InvalidInput.

    >>> validate_id("web.1", path="task_id")
    'web.1'
    """
    if not value:
        raise InvalidInput("must not be empty", path=path)
    if value in (".", ".."):
        raise InvalidInput(f"{value!r} is not a valid ID", path=path)
    if "/" in value:
        raise InvalidInput(f"{value!r} must not contain '/'", path=path)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InvalidInput(f"{value!r} must not contain control characters", path=path)
    return value


def sandbox_path(
    work_dir: Path, agent_id: str, framework_id: str, executor_id: str, container_id: str
) -> Path:
    """The sandbox directory of one run (pure: touches no file).

    >>> str(sandbox_path(Path("/w"), "M-S0", "M-0000", "web.1", "c1"))
    '/w/slaves/M-S0/frameworks/M-0000/executors/web.1/runs/c1'
    """
    validate_id(agent_id, path="agent_id")
    validate_id(framework_id, path="framework_id")
    validate_id(executor_id, path="executor_id")
    validate_id(container_id, path="container_id")
    if container_id == LATEST:
        # It would collide with the ``runs/latest`` symlink.
        raise InvalidInput(f"{LATEST!r} is reserved", path="container_id")
    return (
        Path(work_dir)
        / "slaves"
        / agent_id
        / "frameworks"
        / framework_id
        / "executors"
        / executor_id
        / "runs"
        / container_id
    )


def create_sandbox(
    work_dir: Path, agent_id: str, framework_id: str, executor_id: str, container_id: str
) -> Path:
    """Create the run's sandbox with empty ``stdout``/``stderr`` and point ``latest`` at it.

    Idempotent: existing output files are kept (never truncated), and ``latest`` is
    replaced atomically, so a reader never sees it missing.

    >>> create_sandbox(Path("/w"), "M-S0", "M-0000", "web.1", "c1")  # doctest: +SKIP
    PosixPath('/w/slaves/M-S0/frameworks/M-0000/executors/web.1/runs/c1')
    """
    run_dir = sandbox_path(work_dir, agent_id, framework_id, executor_id, container_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in (STDOUT, STDERR):
        (run_dir / name).touch(exist_ok=True)
    _point_latest(run_dir.parent, container_id)
    return run_dir


def _point_latest(runs_dir: Path, container_id: str) -> None:
    # A relative target keeps the link valid when the work dir is moved or bind-mounted
    # elsewhere. rename(2) over the old link is atomic; unlink-then-symlink is not.
    tmp = runs_dir / f".{LATEST}.{secrets.token_hex(8)}"
    os.symlink(container_id, tmp)
    try:
        os.replace(tmp, runs_dir / LATEST)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------
# Serving: resolution and containment


def is_within(path: Path, roots: Sequence[Path]) -> bool:
    """True when ``path`` is one of ``roots`` or below one (lexically; resolve first).

    >>> is_within(Path("/a/b/c"), [Path("/a/b")]), is_within(Path("/a/bc"), [Path("/a/b")])
    (True, False)
    """
    return any(path == root or path.is_relative_to(root) for root in roots)


def resolve_within(
    roots: Sequence[Path], requested: str, *, virtual: Mapping[str, Path] | None = None
) -> Path:
    """The real, symlink-free path of the existing file ``requested`` names, if servable.

    ``requested`` is an absolute path as a client sent it. When it starts with a key of
    ``virtual`` (a mount such as ``"/slave/log"``), the rest is looked up under that
    mount's real path, and the mount is the only allowed root; otherwise it names a
    real path that must lie inside one of ``roots`` once fully resolved.

    Raises Forbidden when the resolved path lies outside the allowed roots (whether or
    not it exists), NotFound when it is inside but missing, or when ``requested`` is not
    an absolute path at all (relative, empty, NUL bytes, unencodable).

    >>> resolve_within([Path("/w")], "/w/../etc/passwd")
    Traceback (most recent call last):
    ...
    berth.core.errors.Forbidden: '/w/../etc/passwd' is outside the served directories
    """
    path, _ = _resolve(roots, requested, virtual or {})
    return path


def open_within(
    roots: Sequence[Path], requested: str, *, virtual: Mapping[str, Path] | None = None
) -> tuple[int, Path, tuple[Path, ...]]:
    """Open what ``resolve_within`` resolves; return ``(fd, real path, allowed roots)``.

    The descriptor is opened read-only, non-blocking (a FIFO in a sandbox must not hang
    the agent) and close-on-exec; the caller closes it. After opening, the kernel's own
    idea of the file's path is checked against the roots again (Linux ``/proc``), which
    closes the window between resolving and opening.
    """
    path, allowed = _resolve(roots, requested, virtual or {})
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise _os_error(e, requested) from None
    try:
        opened = _fd_path(fd)
        if opened is not None and not is_within(opened, allowed):
            raise Forbidden(f"{requested!r} is outside the served directories")
    except BaseException:
        os.close(fd)
        raise
    return fd, path, allowed


def _resolve(
    roots: Sequence[Path], requested: str, virtual: Mapping[str, Path]
) -> tuple[Path, tuple[Path, ...]]:
    if "\0" in requested or not requested.startswith("/"):
        raise NotFound(f"{requested!r} is not an absolute path")
    try:
        os.fsencode(requested)
    except UnicodeError:
        raise NotFound(f"{requested!r} is not a valid path") from None

    # "" and "." components are no-ops whatever the file system holds, so dropping them
    # before matching mounts is safe; ".." is left for realpath, which applies it after
    # following symlinks, as the kernel does.
    parts = [p for p in requested.split("/") if p not in ("", ".")]
    mount = _longest_mount(parts, virtual)
    if mount is not None:
        key_len, target = mount
        base = Path(os.path.realpath(target))
        suffix = parts[key_len:]
        if suffix and not base.is_dir():
            raise NotFound(f"{requested!r} not found")
        candidate = Path(os.path.realpath(base.joinpath(*suffix)))
        allowed: tuple[Path, ...] = (base,)
    else:
        candidate = Path(os.path.realpath("/" + "/".join(parts)))
        allowed = tuple(Path(os.path.realpath(r)) for r in roots)

    # Containment before existence: an outside path gets 403 whether or not it exists,
    # so the API cannot be used to probe the host's file system.
    if not is_within(candidate, allowed):
        raise Forbidden(f"{requested!r} is outside the served directories")
    if not os.path.lexists(candidate):
        raise NotFound(f"{requested!r} not found")
    return candidate, allowed


def _longest_mount(parts: list[str], virtual: Mapping[str, Path]) -> tuple[int, Path] | None:
    best: tuple[int, Path] | None = None
    for key, target in virtual.items():
        key_parts = [p for p in key.split("/") if p not in ("", ".")]
        n = len(key_parts)
        if n and parts[:n] == key_parts and (best is None or n > best[0]):
            best = (n, target)
    return best


def _fd_path(fd: int) -> Path | None:
    """Where the kernel says ``fd`` points, or None where /proc is not available."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return None


def _os_error(e: OSError, requested: str) -> BerthError:
    """Map a failed open/stat to the error the client should see (never a 500)."""
    if e.errno in (errno.EACCES, errno.EPERM):
        return Forbidden(f"{requested!r}: permission denied")
    if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOMEM):
        return Unavailable(f"{requested!r}: {e.strerror}")
    # ENOENT, ENOTDIR, ELOOP (a component swapped for a symlink: O_NOFOLLOW),
    # ENAMETOOLONG, ...: there is no servable file by that name.
    return NotFound(f"{requested!r}: {e.strerror or 'not found'}")


def normalize_request_path(requested: str) -> str:
    """The requested path in the client's namespace, tidied for display in listings.

    >>> normalize_request_path("//w/./runs//c1/")
    '/w/runs/c1'
    """
    parts = [p for p in requested.split("/") if p not in ("", ".")]
    return posixpath.join("/", *parts)
