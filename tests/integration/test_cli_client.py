"""The ``berth`` client commands against real processes: a master, one process-containerizer
agent and marathon, driven through the real entry point (``python -m berth ...``).

The cluster is shared by the module; every test works on app ids of its own. Commands
reach marathon and the master directly (``--marathon-url``/``--master-url``); no test
output may hold a traceback.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import Cluster, Marathon, Master, free_port, wait_for

pytestmark = pytest.mark.slow

# A task that writes a numbered line to stdout and to stderr twice a second.
TICKER = 'i=0; while true; do echo "out-$i"; echo "err-$i" >&2; i=$((i+1)); sleep 0.5; done'


@dataclass
class Env:
    cluster: Cluster
    master: Master
    marathon: Marathon
    root: Path
    config_home: Path | None = None

    @property
    def flags(self) -> list[str]:
        return ["--marathon-url", self.marathon.url, "--master-url", self.master.url]

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
        env["XDG_CONFIG_HOME"] = str(self.config_home or self.root / "config")
        env["COLUMNS"] = "200"
        return env

    def argv(self, *args: str, flags: bool = True) -> list[str]:
        return [sys.executable, "-m", "berth", *args, *(self.flags if flags else [])]

    def run(
        self, *args: str, flags: bool = True, stdin: str | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.argv(*args, flags=flags),
            input=stdin,
            capture_output=True,
            text=True,
            env=self.environ(),
            timeout=timeout,
        )
        assert "Traceback" not in done.stderr, done.stderr
        assert "Traceback" not in done.stdout, done.stdout
        return done

    def ok(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        done = self.run(*args, **kwargs)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def app_file(self, app_id: str, **fields: Any) -> Path:
        app = {
            "id": app_id,
            "cmd": TICKER,
            "cpus": 0.05,
            "mem": 16,
            "instances": 1,
            "portDefinitions": [],
            **fields,
        }
        path = self.root / f"{app_id.strip('/').replace('/', '_')}.json"
        path.write_text(json.dumps(app))
        return path

    def add(self, app_id: str, **fields: Any) -> None:
        done = self.ok("app", "add", str(self.app_file(app_id, **fields)), "--wait")
        assert f"{app_id}: {fields.get('instances', 1)}/" in done.stdout

    def tasks(self, app_id: str) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = self.json("task", "list", app_id)
        return tasks


@pytest.fixture(scope="module")
def env(module_cluster: Cluster) -> Env:
    master = module_cluster.start_master()
    module_cluster.start_agent(master, containerizers="process", resources="cpus:2;mem:1024")
    marathon = module_cluster.start_marathon(master)
    return Env(module_cluster, master, marathon, module_cluster.root)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# ------------------------------------------------------------------------------ apps


def test_app_add_wait_ends_running_and_lists_as_json(env: Env) -> None:
    path = env.app_file("/cli/add", instances=2)
    done = env.ok("app", "add", str(path), "--wait")
    assert "/cli/add: 2/2 running" in done.stdout

    apps = env.json("app", "list")
    assert [a["instances"] for a in apps if a["id"] == "/cli/add"] == [2]
    table = env.ok("app", "list").stdout
    assert "/cli/add" in table
    assert "2/2" in table

    shown = env.json("app", "show", "cli/add")
    assert shown["id"] == "/cli/add"
    assert len(shown["tasks"]) == 2
    assert "2/2 running" in env.ok("app", "show", "/cli/add").stdout


def test_app_add_reads_stdin(env: Env) -> None:
    text = env.app_file("/cli/stdin").read_text()
    done = env.ok("app", "add", "-", "--wait", stdin=text)
    assert "/cli/stdin: 1/1 running" in done.stdout


def test_app_scale_wait(env: Env) -> None:
    env.add("/cli/scale")
    done = env.ok("app", "scale", "/cli/scale", "3", "--wait")
    assert "/cli/scale: 3/3 running" in done.stdout
    assert len([t for t in env.tasks("/cli/scale") if t["state"] == "TASK_RUNNING"]) == 3


def test_app_update_with_key_values(env: Env) -> None:
    env.add("/cli/update")
    done = env.ok(
        "app", "update", "/cli/update", "instances=2", "labels.team=cli", "mem=24", "--wait"
    )
    assert "/cli/update: 2/2 running" in done.stdout
    app = env.json("app", "show", "/cli/update")
    assert app["instances"] == 2
    assert app["labels"] == {"team": "cli"}
    assert app["mem"] == 24


def test_app_update_from_a_file(env: Env) -> None:
    env.add("/cli/update-file")
    change = env.root / "change.json"
    change.write_text(json.dumps({"instances": 2}))
    done = env.ok("app", "update", "/cli/update-file", str(change), "--wait")
    assert "/cli/update-file: 2/2 running" in done.stdout


def test_app_versions_and_rollback_to_the_previous_version(env: Env) -> None:
    env.add("/cli/rollback")
    env.ok("app", "scale", "/cli/rollback", "2", "--wait")
    versions = env.json("app", "versions", "/cli/rollback")
    assert len(versions) == 2
    assert versions == sorted(versions, reverse=True)
    assert "current" in env.ok("app", "versions", "/cli/rollback").stdout

    done = env.ok("app", "rollback", "/cli/rollback", "--wait")
    assert "/cli/rollback: 1/1 running" in done.stdout
    assert env.json("app", "show", "/cli/rollback")["instances"] == 1

    # An explicit version: the one with two instances.
    done = env.ok("app", "rollback", "/cli/rollback", versions[0], "--wait")
    assert "/cli/rollback: 2/2 running" in done.stdout


def test_app_restart_wait_replaces_the_tasks(env: Env) -> None:
    env.add("/cli/restarted")
    before = {t["id"] for t in env.tasks("/cli/restarted")}
    done = env.ok("app", "restart", "/cli/restarted", "--wait")
    assert "/cli/restarted: 1/1 running" in done.stdout
    after = {t["id"] for t in env.tasks("/cli/restarted")}
    assert after
    assert after.isdisjoint(before)


def test_app_remove_wait_leaves_no_task(env: Env) -> None:
    env.add("/cli/remove", instances=2)
    done = env.ok("app", "remove", "/cli/remove", "--wait")
    assert "/cli/remove: removed" in done.stdout
    gone = env.run("app", "show", "/cli/remove")
    assert gone.returncode == 1
    assert "/cli/remove" in gone.stderr
    assert "does not exist" in gone.stderr
    all_tasks = env.json("task", "list")
    assert not [t for t in all_tasks if t["appId"] == "/cli/remove"]


def test_app_add_without_wait_names_the_deployment(env: Env) -> None:
    done = env.ok("app", "add", str(env.app_file("/cli/nowait")))
    assert "deployment" in done.stdout
    done = env.ok("deployment", "watch", "--timeout", "120")
    assert "running" in done.stdout or done.stderr.strip() == "no deployment in progress"


# ------------------------------------------------------------------------------ tasks


def test_task_log_follows_new_output(env: Env) -> None:
    env.add("/cli/log-follow")
    [task] = env.tasks("/cli/log-follow")
    proc = subprocess.Popen(
        env.argv("task", "log", task["id"], "-f", "--lines", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env.environ(),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("out-"), first
        n = int(first.removeprefix("out-"))
        # Lines the task writes after the command started arrive, in order.
        for expected in range(n + 1, n + 4):
            assert proc.stdout.readline().strip() == f"out-{expected}"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err


def test_task_log_stderr_last_lines(env: Env) -> None:
    env.add("/cli/log-err")
    [task] = env.tasks("/cli/log-err")
    # Give the task time to write more than two lines.
    wait_for(
        lambda: (
            len(lines(env.ok("task", "log", task["id"], "--stderr", "--lines", "5").stdout)) >= 3
        ),
        "three stderr lines",
    )
    done = env.ok("task", "log", task["id"].split("._app")[0], "--stderr", "--lines", "2")
    out = lines(done.stdout)
    assert len(out) == 2, out
    assert all(line.startswith("err-") for line in out), out
    assert int(out[1].removeprefix("err-")) == int(out[0].removeprefix("err-")) + 1


def test_task_kill_and_kill_with_scale(env: Env) -> None:
    env.add("/cli/kill", instances=2)
    first, second = sorted(t["id"] for t in env.tasks("/cli/kill"))
    done = env.ok("task", "kill", first)
    assert f"killed {first}" in done.stdout
    wait_for(
        lambda: (
            first not in {t["id"] for t in env.tasks("/cli/kill")}
            and len([t for t in env.tasks("/cli/kill") if t["state"] == "TASK_RUNNING"]) == 2
        ),
        "a replacement of the killed task",
    )
    done = env.ok("task", "kill", second, "--scale", "--wait")
    assert "/cli/kill: 1/1 running" in done.stdout
    assert env.json("app", "show", "/cli/kill")["instances"] == 1

    unknown = env.run("task", "kill", "no-such-task")
    assert unknown.returncode == 1
    assert "no task matches" in unknown.stderr


def test_task_list_table(env: Env) -> None:
    env.add("/cli/task-list")
    table = env.ok("task", "list", "/cli/task-list").stdout
    assert "RUNNING" in table
    assert "cli_task-list." in table


# ------------------------------------------------------------------------- deployments


def test_deployment_list_watch_and_stop(env: Env) -> None:
    # Too big for the agent: its deployment cannot finish.
    env.ok("app", "add", str(env.app_file("/cli/stuck", cpus=50)))
    [deployment] = [d for d in env.json("deployment", "list") if "/cli/stuck" in d["affectedApps"]]
    assert deployment["id"] in env.ok("deployment", "list").stdout

    late = env.run("deployment", "watch", deployment["id"], "--timeout", "1")
    assert late.returncode == 4, late.stderr
    assert "timed out" in late.stderr
    assert "berth deployment watch" in late.stderr

    watcher = subprocess.Popen(
        env.argv("deployment", "watch", deployment["id"][:8]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env.environ(),
    )
    try:
        # It reports where the deployment is once it follows it.
        assert watcher.stderr is not None
        assert deployment["id"] in watcher.stderr.readline()
        done = env.ok("deployment", "stop", deployment["id"])
        assert "stopped" in done.stdout
        out, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert watcher.returncode == 4, (out, err)
    assert "stopped" in err
    assert "Traceback" not in err
    assert not [d for d in env.json("deployment", "list") if d["id"] == deployment["id"]]


def test_deployment_rollback_wait(env: Env) -> None:
    env.ok("app", "add", str(env.app_file("/cli/unplaceable", cpus=50)))
    [deployment] = [
        d for d in env.json("deployment", "list") if "/cli/unplaceable" in d["affectedApps"]
    ]
    done = env.ok("deployment", "rollback", deployment["id"], "--wait")
    assert "/cli/unplaceable: removed" in done.stdout
    assert env.run("app", "show", "/cli/unplaceable").returncode == 1


# ------------------------------------------------------------------------------ nodes


def test_node_list(env: Env) -> None:
    [agent] = env.json("node", "list")
    assert agent["active"] is True
    table = env.ok("node", "list").stdout
    assert agent["id"] in table
    assert "active" in table


# -------------------------------------------------------------------- cluster config


def test_cluster_setup_saves_a_private_config_used_by_later_commands(env: Env) -> None:
    done = env.run("cluster", "setup", env.marathon.url, flags=False)
    assert done.returncode == 0, done.stderr
    config = env.root / "config" / "berth" / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert env.marathon.url in config.read_text()
    # No flags: the saved marathon, and the master marathon names.
    status = env.run("cluster", "status", flags=False)
    assert status.returncode == 0, status.stderr
    assert "marathon" in status.stdout
    assert "1/1 agents active" in status.stdout
    nodes = env.run("node", "list", "--json", flags=False)
    assert nodes.returncode == 0
    assert len(json.loads(nodes.stdout)) == 1


# --------------------------------------------------------------------------- bad use


def _one_line(text: str) -> str:
    out = lines(text)
    assert len(out) == 1, text
    return out[0]


def test_unknown_command_is_one_line_and_exit_2(env: Env) -> None:
    for args in (["frobnicate"], ["app", "frobnicate"], ["app", "list", "--frob"]):
        done = env.run(*args, flags=False)
        assert done.returncode == 2, done
        assert _one_line(done.stderr).startswith("error: ")


def test_missing_file_is_exit_2(env: Env) -> None:
    done = env.run("app", "add", str(env.root / "nope.json"))
    assert done.returncode == 2
    assert "no such file" in _one_line(done.stderr)


def test_invalid_json_says_where(env: Env) -> None:
    bad = env.root / "bad.json"
    bad.write_text('{\n  "id": "/x",\n  "cpus": ,\n}')
    done = env.run("app", "add", str(bad))
    assert done.returncode == 2
    assert "line 3 column" in _one_line(done.stderr)


def test_invalid_app_shows_the_servers_message_with_the_field_path(env: Env) -> None:
    done = env.run("app", "add", str(env.app_file("/cli/invalid", cpus=-1)))
    assert done.returncode == 1, done
    assert done.stderr.startswith("error: ")
    assert "/cpus" in done.stderr


def test_unknown_app_is_exit_1(env: Env) -> None:
    for args in (["app", "show", "/no/such/app"], ["app", "scale", "/no/such/app", "2"]):
        done = env.run(*args)
        assert done.returncode == 1
        assert "does not exist" in _one_line(done.stderr)


def test_cluster_not_running_is_exit_3_in_one_line(env: Env) -> None:
    port = free_port()
    for args in (["app", "list"], ["app", "add", str(env.app_file("/cli/x")), "--wait"]):
        done = env.run(*args, "--url", f"http://127.0.0.1:{port}", flags=False)
        assert done.returncode == 3, done
        line = _one_line(done.stderr)
        assert f"127.0.0.1:{port}" in line
        assert "berth up" in line


def test_wait_timeout_is_exit_4(env: Env) -> None:
    done = env.run(
        "app", "add", str(env.app_file("/cli/too-big", cpus=50)), "--wait", "--timeout", "1"
    )
    assert done.returncode == 4
    assert "timed out" in done.stderr

    # Once marathon has turned an offer down, the final state says why, in its words.
    def declined() -> bool:
        reply = env.marathon.get("/v2/queue?embed=lastUnusedOffers").json()
        return any(item.get("lastUnusedOffers") for item in reply["queue"])

    wait_for(declined, "marathon to turn down an offer for /cli/too-big")
    (deployment,) = [
        d["id"]
        for d in env.marathon.get("/v2/deployments").json()
        if "/cli/too-big" in d["affectedApps"]
    ]
    watched = env.run("deployment", "watch", deployment, "--timeout", "1")
    assert watched.returncode == 4
    assert "/cli/too-big: 0/1 running; waiting, offers turned down: " in watched.stdout
    assert "insufficient cpus" in watched.stdout, watched.stdout
    env.ok("app", "remove", "/cli/too-big", "--wait")


def test_show_completion_covers_the_groups(env: Env) -> None:
    berth = Path(sys.executable).parent / "berth"
    env_vars = {
        **env.environ(),
        "_BERTH_COMPLETE": "complete_bash",
        "COMP_WORDS": "berth ap",
        "COMP_CWORD": "1",
    }
    done = subprocess.run([str(berth)], capture_output=True, text=True, env=env_vars, timeout=30)
    assert "app" in done.stdout.split(), (done.stdout, done.stderr)


# --------------------------------------------------------------------------- gateway


def test_everything_through_the_gateway(env: Env) -> None:
    gateway = env.cluster.start_gateway(env.master, env.marathon)
    through = Env(env.cluster, env.master, env.marathon, env.root, env.root / "gw-config")
    done = through.run("cluster", "setup", f"127.0.0.1:{gateway.port}", flags=False)
    assert done.returncode == 0, done.stderr
    assert "cluster" in done.stdout
    config = (env.root / "gw-config" / "berth" / "config.toml").read_text()
    assert gateway.url in config
    assert "marathon_url" not in config

    path = env.app_file("/cli/gw")
    done = through.run("app", "add", str(path), "--wait", flags=False)
    assert done.returncode == 0, done.stderr
    assert "/cli/gw: 1/1 running" in done.stdout
    [task] = json.loads(through.run("task", "list", "/cli/gw", "--json", flags=False).stdout)
    wait_for(
        lambda: (
            "out-" in through.run("task", "log", task["id"], "--lines", "1", flags=False).stdout
        ),
        "the task's output through the gateway",
    )
    status = through.run("cluster", "status", flags=False)
    assert status.returncode == 0, status.stderr
    assert gateway.url + "/service/marathon" in status.stdout
    [agent] = json.loads(through.run("node", "list", "--json", flags=False).stdout)
    assert agent["active"] is True
    done = through.run("app", "remove", "/cli/gw", "--wait", flags=False)
    assert done.returncode == 0, done.stderr
    assert "/cli/gw: removed" in done.stdout
