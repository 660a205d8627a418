"""Container shim for the process containerizer (standard library only).

Started by the agent as ``python -I shim.py <runtime_dir>/launch.json`` in a session of
its own, so it outlives an agent crash. It:

1. forks the task; the child joins the container's cgroups, starts its own session
   (so the task is one process group), sends stdout/stderr to the sandbox files, drops
   to the task's user and execs the command (exec failures come back over a
   close-on-exec pipe);
2. writes ``shim.json`` (its pid and start time, the task's pid) and then one JSON line
   on stdout, ``{"child_pid": N, "error": null | "..."}``, which is the agent's signal
   that the launch finished; stdout is closed right after, so a dead agent cannot hurt it;
3. waits for the task, notes an OOM kill from the memory cgroup, kills whatever the
   task left behind (its process group and cgroups), removes the cgroups, and writes
   ``termination.json`` atomically: ``{"exit_code", "signal", "oom_killed", "error"}``.

The shim never joins the task's cgroups (the OOM killer must not pick it) and ignores
SIGTERM/SIGINT/SIGHUP (its job is to record the exit); the task gets default signal
dispositions back before exec.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import sys
import time
from typing import Any

_RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _write_json_atomic(path: str, value: dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(value, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _start_time(pid: int) -> int:
    """Process start time in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def _child(config: dict[str, Any], err_w: int) -> None:
    """In the forked child: set up and exec the task. Never returns."""
    step = "setup"
    try:
        step = "setsid"
        os.setsid()
        for procs in config.get("cgroup_procs", []):
            step = f"join cgroup {procs}"
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        step = "open sandbox files"
        stdin = os.open(os.devnull, os.O_RDONLY)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        stdout = os.open(config["stdout"], flags, 0o644)
        stderr = os.open(config["stderr"], flags, 0o644)
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        step = f"chdir {config['cwd']}"
        os.chdir(config["cwd"])
        for sig in _RESET_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        user = config.get("user")
        if user:
            step = f"switch to user {user}"
            entry = pwd.getpwnam(user)
            os.initgroups(user, entry.pw_gid)
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
        step = f"execute {config['program']!r}"
        os.execvpe(config["program"], config["argv"], config["env"])
    except BaseException as e:  # anything here must end the child, never return
        with contextlib.suppress(BaseException):
            detail = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            os.write(err_w, f"Failed to {step}: {detail}".encode()[:4000])
    os._exit(127)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _oom_killed(oom: dict[str, Any]) -> bool:
    directory = oom.get("memory_dir")
    if not directory:
        return False
    name = "memory.events" if oom.get("version") == "v2" else "memory.oom_control"
    try:
        with open(os.path.join(directory, name)) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
    except (OSError, ValueError):
        pass
    return False


def _cgroup_pids(dirs: list[str]) -> set[int]:
    pids: set[int] = set()
    for directory in dirs:
        try:
            with open(os.path.join(directory, "cgroup.procs")) as f:
                pids.update(int(line) for line in f if line.strip())
        except (OSError, ValueError):
            pass
    return pids


def _clean_up(child_pid: int, dirs: list[str]) -> None:
    """Kill what the task left behind, then remove its cgroups (best effort, bounded)."""
    with contextlib.suppress(OSError):
        os.killpg(child_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while dirs and time.monotonic() < deadline:
        pids = _cgroup_pids(dirs)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    for directory in dirs:
        with contextlib.suppress(OSError):
            os.rmdir(directory)


def main(argv: list[str]) -> int:
    with open(argv[1]) as f:
        config = json.load(f)
    for ignored in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(ignored, signal.SIG_IGN)

    err_r, err_w = os.pipe()  # close-on-exec: EOF without data means exec succeeded
    child_pid = os.fork()
    if child_pid == 0:
        os.close(err_r)
        _child(config, err_w)
    os.close(err_w)
    error = _read_all(err_r).decode(errors="replace") or None
    os.close(err_r)

    _write_json_atomic(
        config["state"],
        {"shim_pid": os.getpid(), "shim_start": _start_time(os.getpid()), "child_pid": child_pid},
    )
    sys.stdout.write(json.dumps({"child_pid": child_pid, "error": error}) + "\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)

    while True:
        try:
            _, status = os.waitpid(child_pid, 0)
            break
        except ChildProcessError:
            status = -1
            break
    exit_code: int | None = None
    sig: int | None = None
    if status == -1:
        pass
    elif os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
    else:
        exit_code = os.waitstatus_to_exitcode(status)

    oom = _oom_killed(config.get("oom", {}))
    _clean_up(child_pid, config.get("cgroup_dirs", []))
    _write_json_atomic(
        config["termination"],
        {"exit_code": exit_code, "signal": sig, "oom_killed": oom, "error": error},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
