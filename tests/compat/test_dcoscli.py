"""The unchanged DC/OS CLI (dcoscli 0.6.1) drives a Berth cluster through the gateway.

A real master, a process-containerizer agent, marathon and the gateway; the CLI is the
PyPI release run as a subprocess (``tests/compat/dcoscli_env.py`` builds its
environment). Each test checks the exit status and what the user sees, the way the
reference (dcos.md (b)) describes each command. The CLI has no ``--wait``: the tests
poll the API for the state a command should lead to.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.cluster import Cluster, Gateway, Master, cluster_fixture, wait_for
from tests.compat.dcoscli_env import DcosCli, ensure_dcoscli

JSONDict = dict[str, Any]


@pytest.fixture(scope="session")
def dcos_executable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by every worker of this run
    return ensure_dcoscli(root / "dcoscli-cache")


@dataclass
class Setup:
    cluster: Cluster
    master: Master
    gateway: Gateway
    cli: DcosCli

    def marathon(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.gateway.url + "/service/marathon" + path
        return requests.request(method, url, timeout=10, **kwargs)

    def app(self, app_id: str) -> JSONDict | None:
        r = self.marathon("GET", f"/v2/apps{app_id}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        app: JSONDict = r.json()["app"]
        return app


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, dcos_executable: Path) -> Iterator[Setup]:
    for cluster in cluster_fixture(tmp_path_factory.mktemp("dcoscli-cluster")):
        master = cluster.start_master()
        cluster.start_agent(master, containerizers="process")
        marathon = cluster.start_marathon(master)
        gateway = cluster.start_gateway(master, marathon)
        config_dir = tmp_path_factory.mktemp("dcoscli-home") / ".dcos"
        config_dir.mkdir(mode=0o700)
        cli = DcosCli(dcos_executable, config_dir)
        done = cli.run("config", "set", "core.dcos_url", gateway.url)
        assert done.returncode == 0, done.stderr
        assert f"[core.dcos_url]: set to '{gateway.url}'" in done.stderr
        yield Setup(cluster, master, gateway, cli)


def _write_app(tmp_path: Path, app: JSONDict) -> str:
    path = tmp_path / "app.json"
    path.write_text(json.dumps(app))
    return str(path)


def _unique(name: str) -> str:
    return f"/{name}-{uuid.uuid4().hex[:6]}"


def test_the_cli_attaches_to_the_cluster_by_its_id(setup: Setup) -> None:
    version = setup.cli.ok("--version")
    assert "dcoscli.version=0.6.1" in version
    assert "dcos.version=1.12.0" in version  # read from /dcos-metadata/dcos-version.json
    setup.cli.ok("marathon", "app", "list")  # any command migrates the legacy config
    cluster_id = setup.gateway.get("/metadata").json()["CLUSTER_ID"]
    attached = setup.cli.config_dir / "clusters" / cluster_id / "attached"
    assert attached.exists()
    listed = setup.cli.ok("cluster", "list")
    assert cluster_id in listed
    assert "AVAILABLE" in listed
    assert setup.gateway.url in listed


def test_app_lifecycle(setup: Setup, tmp_path: Path) -> None:
    app_id = _unique("cli-app")
    line = f"hello-from-{app_id[1:]}"
    app = {
        "id": app_id,
        "cmd": f"echo {line}; sleep 3600",
        "cpus": 0.01,
        "mem": 16,
        "instances": 1,
        "portDefinitions": [],
    }
    cli = setup.cli

    added = cli.ok("marathon", "app", "add", _write_app(tmp_path, app))
    assert added.startswith("Created deployment ")
    again = cli.run("marathon", "app", "add", _write_app(tmp_path, app))
    assert again.returncode == 1
    assert f"Application '{app_id}' already exists" in again.stderr

    listed = cli.ok("marathon", "app", "list")
    assert listed.split()[:9] == [
        "ID", "MEM", "CPUS", "TASKS", "HEALTH", "DEPLOYMENT", "WAITING", "CONTAINER", "CMD"
    ]  # fmt: skip
    assert app_id in listed
    assert app_id in cli.ok("marathon", "app", "list", "--quiet").split()

    shown = json.loads(cli.ok("marathon", "app", "show", app_id))
    assert (shown["id"], shown["cmd"], shown["instances"]) == (app_id, app["cmd"], 1)

    updated = cli.ok("marathon", "app", "update", app_id, "instances=2")
    assert updated.startswith("Created deployment ")
    wait_for(
        lambda: (a := setup.app(app_id)) and a["tasksRunning"] == 2 and not a["deployments"],
        f"{app_id} to run 2 tasks\n{setup.cluster.logs()}",
    )

    name = app_id[1:]
    tasks = cli.ok("task", name)
    assert tasks.split()[:9] == [
        "NAME", "HOST", "USER", "STATE", "ID", "MESOS", "ID", "REGION", "ZONE"
    ]  # fmt: skip
    rows = [row.split() for row in tasks.splitlines()[1:] if row.strip()]
    assert len(rows) == 2
    agent = setup.master.state()["slaves"][0]
    for row in rows:
        assert row[0] == name
        assert row[1] == agent["hostname"]
        assert row[3] == "R"
        assert row[5] == agent["id"]
    task_json = json.loads(cli.ok("task", name, "--json"))
    assert {t["state"] for t in task_json} == {"TASK_RUNNING"}

    def logged() -> str | None:
        out = cli.run("task", "log", name)
        return out.stdout if out.returncode == 0 and out.stdout.count(line) == 2 else None

    log = wait_for(logged, f"`dcos task log {name}` to show {line!r} for both tasks")
    assert log.count("===> task:") == 2  # one block per task, headed by the task id

    assert cli.ok("marathon", "app", "remove", app_id) == ""
    wait_for(lambda: setup.app(app_id) is None, f"{app_id} to be gone")
    missing = cli.run("marathon", "app", "remove", app_id)
    assert missing.returncode == 1
    assert f"App '{app_id}' does not exist" in missing.stderr


def test_deployment_list_shows_a_deployment_in_progress(setup: Setup, tmp_path: Path) -> None:
    app_id = _unique("cli-stuck")
    # More CPU than the agent has: the deployment stays in progress.
    app = {"id": app_id, "cmd": "sleep 3600", "cpus": 64, "mem": 16, "instances": 1}
    setup.cli.ok("marathon", "app", "add", _write_app(tmp_path, app))
    deployment_id = setup.marathon("GET", f"/v2/apps{app_id}").json()["app"]["deployments"][0]["id"]

    listed = setup.cli.ok("marathon", "deployment", "list", app_id)
    assert listed.split()[:5] == ["APP", "POD", "ACTION", "PROGRESS", "ID"]
    assert app_id in listed
    assert deployment_id in listed
    as_json = json.loads(setup.cli.ok("marathon", "deployment", "list", "--json"))
    assert deployment_id in {d["id"] for d in as_json}

    # Changing an app under deployment needs --force (Marathon's 409 otherwise); removing
    # does not (DELETE defaults to force=true).
    blocked = setup.cli.run("marathon", "app", "update", app_id, "instances=2")
    assert blocked.returncode == 1
    assert "Changes blocked: deployment already in progress for app." in blocked.stderr
    forced = setup.cli.ok("marathon", "app", "update", "--force", app_id, "instances=0")
    assert forced.startswith("Created deployment ")
    setup.cli.ok("marathon", "app", "remove", app_id)
    wait_for(lambda: setup.app(app_id) is None, f"{app_id} to be gone")


def test_node_lists_the_leading_master_and_the_agent(setup: Setup) -> None:
    nodes = setup.cli.ok("node")
    state = setup.master.state()
    agent = state["slaves"][0]
    assert nodes.split()[:6] == ["HOSTNAME", "IP", "ID", "TYPE", "REGION", "ZONE"]
    assert "master (leader)" in nodes
    assert agent["id"] in nodes
    assert state["id"] in nodes
    as_json = json.loads(setup.cli.ok("node", "--json"))
    by_type = {n["type"]: n for n in as_json}
    assert by_type["master (leader)"]["ip"] == state["hostname"]
    assert by_type["agent"]["id"] == agent["id"]
    assert by_type["agent"]["hostname"] == agent["hostname"]


def test_services_and_the_marathon_leader(setup: Setup) -> None:
    services = setup.cli.ok("service")
    assert services.split()[:8] == ["NAME", "HOST", "ACTIVE", "TASKS", "CPU", "MEM", "DISK", "ID"]
    marathon = next(f for f in setup.master.state()["frameworks"] if f["name"] == "marathon")
    assert marathon["id"] in services
    leader = json.loads(setup.cli.ok("marathon", "leader", "show", "--json"))
    assert leader == {"host": "marathon.mesos.", "ip": marathon["hostname"]}
    about = json.loads(setup.cli.ok("marathon", "about"))
    assert about["frameworkId"] == marathon["id"]


def test_task_log_of_no_task_says_so(setup: Setup) -> None:
    out = setup.cli.run("task", "log", "no-such-task-anywhere")
    assert out.returncode == 1
    assert "No matching tasks. Exiting." in out.stderr


def test_cluster_setup_names_the_cluster_from_the_master(setup: Setup, tmp_path: Path) -> None:
    config_dir = tmp_path / ".dcos"
    config_dir.mkdir(mode=0o700)
    cli = DcosCli(setup.cli.executable, config_dir)
    cli.ok("cluster", "setup", setup.gateway.url)
    listed = cli.ok("cluster", "list")
    assert "AVAILABLE" in listed
    assert "berth" in listed  # the master's --cluster name
    cli.ok("marathon", "app", "list")
