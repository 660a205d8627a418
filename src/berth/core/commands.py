"""Short-lived commands (health checks, commands run inside a container) that never
outlive the one who ran them.

:func:`run_to_exit` runs a program in a session of its own and returns its exit status;
on a timeout or a cancellation, at any moment (even while the child is being spawned),
it kills the child's whole process group, so nothing the command started is left
behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


async def run_to_exit(
    argv: Sequence[str],
    *,
    executable: str | None = None,
    cwd: Path | str | None,
    env: Mapping[str, str],
    timeout: float,
    preexec_fn: Callable[[], None] | None = None,
) -> int:
    """Run ``argv`` (stdio on /dev/null) and return its exit status (negative: killed by
    that signal). Raises TimeoutError after ``timeout`` seconds, the group killed.

    >>> asyncio.run(run_to_exit(["sh", "-c", "exit 3"], cwd=None, env={}, timeout=5))
    3
    """
    spawn = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *argv,
            executable=executable,
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )
    )
    try:
        # Shielded: the child may already run when a cancellation arrives mid-spawn, and
        # must then be killed like one cancelled later, not left behind.
        process = await asyncio.shield(spawn)
    except asyncio.CancelledError:
        process = await spawn
        await _kill_and_reap(process)
        raise
    try:
        async with asyncio.timeout(timeout):
            return await process.wait()
    except BaseException:
        await _kill_and_reap(process)
        raise


async def _kill_and_reap(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
            os.killpg(process.pid, signal.SIGKILL)
    # SIGKILL cannot be ignored: this wait is short, and it reaps the child.
    await asyncio.shield(process.wait())
