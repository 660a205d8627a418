"""``ForkedProcess``: waiting on and signalling a forked child from an event loop."""

from __future__ import annotations

import os
import signal
import time

from berth.cli.up_fork import ForkedProcess


def fork(then: str) -> int:
    pid = os.fork()
    if pid == 0:  # the child only exits or sleeps: safe even in a threaded parent
        if then == "exit 3":
            os._exit(3)
        time.sleep(60)
        os._exit(0)
    return pid


async def test_wait_returns_the_exit_status() -> None:
    child = ForkedProcess(fork("exit 3"))
    assert await child.wait() == 3
    assert child.returncode == 3
    assert await child.wait() == 3  # again: remembered, not re-reaped


async def test_a_signalled_child_reports_the_signal_negated() -> None:
    child = ForkedProcess(fork("sleep"))
    assert child.returncode is None
    child.send_signal(signal.SIGKILL)
    assert await child.wait() == -signal.SIGKILL
    child.send_signal(signal.SIGTERM)  # ended: a no-op, never a stray kill
