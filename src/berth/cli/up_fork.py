"""Start ``berth up``'s children by forking a process that has already imported them.

Why: on a small machine, start-up is the children's imports. Each child, exec'd as
``python -m berth <service>``, imports the CLI and its service (FastAPI, uvicorn, aiohttp,
pydantic models): 0.8-1.2 s of CPU each, about 4 s for four children, against 1.3 s for
all of them imported once. Measured on two cores: the cluster accepted an app 1.6-1.9 s
after ``berth up`` started with forking, 3.7-6.3 s with exec (bench/cluster_startup.py).

How: ``preload`` imports what a child will need, in ``berth up`` before it starts its
event loop (no loop, no threads: forking is safe then); ``fork_child`` forks,
and the child becomes the service exactly as ``python -m berth <args>`` would (its own
session, its log file as stdout and stderr, ``berth.cli.main`` run with its arguments),
and never returns. A restart later execs ``python -m berth ...`` as usual (forking from a
running event loop is not safe), so a child's code is never older than on disk for long.

A forked child shows ``berth up``'s command line in ``ps``; its ``comm`` (``ps -e``,
``pgrep berth-marathon``) names it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import importlib
import logging
import os
import random
import signal
import sys
import threading
import time
import traceback

from berth.cli.up_plan import ChildSpec, Kind

SERVICE_MODULES = {
    Kind.MASTER: "berth.master.service",
    Kind.AGENT: "berth.agent.service",
    Kind.MARATHON: "berth.marathon.service",
    Kind.GATEWAY: "berth.gateway.service",
}


def can_fork() -> bool:
    """Forking is safe: POSIX, and no thread but this one (a lock held by another
    thread at fork time would stay locked in the child forever)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def preload(kind: Kind) -> None:
    """Import what a ``kind`` child needs. A module that will not import is left to the
    child, which then fails and reports it as an exec'd child would."""
    for module in ("berth.cli.main", SERVICE_MODULES[kind]):
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    # What is imported now lives as long as the children: keep the collector off it, so
    # their copies of these pages stay shared instead of being touched by collections.
    gc.freeze()


def fork_child(spec: ChildSpec) -> int:
    """Fork; in the parent, return the child's pid. The child runs ``berth <spec.args>``
    with its output in ``spec.log_path`` and exits with its status (never returns)."""
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        # Start as a fresh process would: signals unblocked (``berth up`` blocks them
        # around forking), in a session of its own.
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        os.setsid()
        log = os.open(spec.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        os.write(log, f"---- berth up started {spec.name} at {stamp} (forked)\n".encode())
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(devnull)
        os.close(log)
        with contextlib.suppress(OSError), open("/proc/self/comm", "w") as comm:
            comm.write(f"berth-{spec.kind.value}"[:15])
        random.seed()  # not the parent's sequence
        logging.root.handlers.clear()  # the service configures its own (--log-level)
        sys.argv = ["berth", *spec.args]
        from berth.cli.main import main

        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        # Leave as a normal interpreter exit would (threads joined, exit functions run),
        # but without unwinding into ``berth up``'s frames, which this process shares.
        with contextlib.suppress(BaseException):
            getattr(threading, "_shutdown", lambda: None)()
            getattr(atexit, "_run_exitfuncs", lambda: None)()
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class ForkedProcess:
    """A forked child, with the part of ``asyncio.subprocess.Process`` the supervisor
    uses: ``pid``, ``returncode``, ``wait()``, ``send_signal()``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._returncode: int | None = None

    @property
    def returncode(self) -> int | None:
        if self._returncode is None:
            self._reap()
        return self._returncode

    def _reap(self) -> None:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere; its status is lost
            self._returncode = 255
            return
        if pid:
            self._returncode = os.waitstatus_to_exitcode(status)

    async def wait(self) -> int:
        """The exit status once the child has ended (negative: killed by that signal)."""
        while self.returncode is None:
            await self._exited()
        assert self._returncode is not None
        return self._returncode

    async def _exited(self) -> None:
        # A pidfd becomes readable when the process ends (Linux 5.3+); elsewhere, poll.
        try:
            fd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            await asyncio.sleep(0.05)
            return
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ended.done():
                ended.set_result(None)

        loop.add_reader(fd, wake)
        try:
            if self.returncode is None:
                await ended
        finally:
            loop.remove_reader(fd)
            os.close(fd)

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)
