"""Tables for people and JSON for scripts (``render``)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from berth.cli.client.render import (
    apps_table,
    deployments_table,
    dumps_json,
    nodes_table,
    tasks_table,
    versions_table,
)

APP = {
    "id": "/web",
    "instances": 3,
    "tasksRunning": 2,
    "tasksHealthy": 2,
    "healthChecks": [{"protocol": "HTTP"}],
    "cpus": 0.25,
    "mem": 128.0,
    "container": {"type": "DOCKER", "docker": {"image": "python:3"}},
    "deployments": [],
}


def test_apps_table_rows() -> None:
    table = apps_table([APP, {"id": "/b", "cmd": "x" * 80, "deployments": [{"id": "d"}]}])
    assert table.headers[0] == "ID"
    assert table.rows[0] == ("/web", "2/3", "2/3", "0.25", "128", "-", "image python:3")
    assert table.rows[1][5] == "deploying"
    assert len(table.rows[1][6]) == 50


def test_tasks_are_sorted_by_app_then_id_and_show_health() -> None:
    tasks: list[dict[str, Any]] = [
        {"id": "b.2", "appId": "/b", "state": "TASK_STAGING", "ports": []},
        {
            "id": "a.1",
            "appId": "/a",
            "state": "TASK_RUNNING",
            "healthCheckResults": [{"alive": False}],
            "ports": [1, 2],
        },
    ]
    rows = tasks_table(tasks).rows
    assert [r[0] for r in rows] == ["a.1", "b.2"]
    assert rows[0][2:4] == ("RUNNING", "unhealthy")
    assert rows[0][5] == "1,2"
    assert rows[1][2:4] == ("STAGING", "-")


def test_deployment_and_node_rows() -> None:
    [row] = deployments_table(
        [
            {
                "id": "d1",
                "affectedApps": ["/a", "/b"],
                "currentStep": 1,
                "totalSteps": 3,
                "currentActions": [
                    {"action": "RestartApplication", "app": "/a"},
                    {"action": "StopApplication", "app": "/b"},
                ],
                "version": "v",
            }
        ]
    ).rows
    assert row == ("d1", "/a, /b", "1/3", "restart /a, stop /b", "v")
    [node] = nodes_table([{"id": "S0", "hostname": "h", "pid": "bad", "active": False}]).rows
    assert node == ("S0", "h", "-", "inactive", "0/-", "0/-", "-")


def test_versions_newest_first() -> None:
    assert versions_table(["1", "3", "2"], "2").rows == (("3", ""), ("2", "current"), ("1", ""))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(_json)
def test_json_output_parses_back_to_the_same_data(data: Any) -> None:
    assert json.loads(dumps_json(data)) == data


@given(st.lists(st.dictionaries(st.sampled_from(list(APP)), _json), max_size=5))
def test_tables_accept_any_shape_of_app_json(apps: list[dict[str, Any]]) -> None:
    table = apps_table(apps)
    assert len(table.rows) == len(apps)
    assert all(len(row) == len(table.headers) for row in table.rows)
    assert all(isinstance(cell, str) for row in table.rows for cell in row)
