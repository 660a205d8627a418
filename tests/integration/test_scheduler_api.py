"""Bad input to the scheduler API gets Mesos's status codes and a message that says what
is wrong; the master keeps serving."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from berth.core.recordio import Decoder
from tests.cluster import Cluster, Master, wait_for
from tests.framework import Framework, random_uuid_b64, task_info

JSON_HEADERS = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def master(module_cluster: Cluster) -> Iterator[Master]:
    m = module_cluster.start_master()
    module_cluster.start_agent(m, containerizers="process")
    yield m
    assert m.get("/health").status_code == 200
    assert m.process.alive()


def post(master: Master, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return requests.post(
        master.url + "/api/v1/scheduler",
        data=data,
        headers=JSON_HEADERS if headers is None else headers,
        timeout=10,
    )


SUBSCRIBE = {
    "type": "SUBSCRIBE",
    "subscribe": {"framework_info": {"user": "root", "name": "bad-input"}},
}


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"{}", {}, 400, "Content-Type"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "application/json"),
        (b"{}", {"Content-Type": "application/x-protobuf"}, 415, "application/json"),
        (b"not json", None, 400, "JSON"),
        (b"[1, 2]", None, 400, "object"),
        ({}, None, 400, "'type'"),
        ({"type": "UNKNOWN"}, None, 501, "UNKNOWN"),
        ({"type": "BOGUS"}, None, 400, "BOGUS"),
        ({"type": "SUBSCRIBE"}, None, 400, "subscribe"),
        ({"type": "SUBSCRIBE", "subscribe": {}}, None, 400, "framework_info"),
        (
            {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "x"}}},
            None,
            400,
            "framework_info.user",
        ),
        (
            {**SUBSCRIBE, "framework_id": {"value": "other"}},
            None,
            400,
            "differs",
        ),
        (SUBSCRIBE, {**JSON_HEADERS, "Accept": "text/html"}, 406, "Accept"),
        (SUBSCRIBE, {**JSON_HEADERS, "Mesos-Stream-Id": "x"}, 400, "Mesos-Stream-Id"),
        ({"type": "DECLINE"}, None, 400, "framework_id"),
        (
            {"type": "DECLINE", "framework_id": {"value": "nope"}},
            None,
            400,
            "Framework cannot be found",
        ),
    ],
)
def test_malformed_calls_get_4xx_with_a_message(
    master: Master, body: Any, headers: dict[str, str] | None, status: int, message: str
) -> None:
    r = post(master, body, headers)
    assert r.status_code == status, r.text
    assert message in r.text


def test_wrong_method_is_405(master: Master) -> None:
    r = requests.get(master.url + "/api/v1/scheduler", timeout=10)
    assert r.status_code == 405
    assert "POST" in r.text


def test_invalid_role_is_refused_with_an_error_event(master: Master) -> None:
    body = {
        "type": "SUBSCRIBE",
        "subscribe": {
            "framework_info": {
                "user": "root",
                "name": "bad-role",
                "roles": ["bad role"],
                "capabilities": [{"type": "MULTI_ROLE"}],
            }
        },
    }
    r = post(master, body)
    # A well-formed but refused SUBSCRIBE: 200, one ERROR event, then the stream ends.
    assert r.status_code == 200
    (record,) = Decoder().feed(r.content)
    event = json.loads(record)
    assert event["type"] == "ERROR"
    assert "role" in event["error"]["message"]


@pytest.fixture
def framework(master: Master) -> Iterator[Framework]:
    fw = Framework(master.url)
    fw.subscribe()
    yield fw
    # The master is shared by the module: leave nothing holding its agent's resources.
    fw.teardown()
    fw.disconnect()


def test_calls_need_the_current_stream_id(master: Master, framework: Framework) -> None:
    body = {"type": "REVIVE", "framework_id": {"value": framework.framework_id}}
    r = post(master, body)
    assert r.status_code == 400
    assert "Mesos-Stream-Id" in r.text
    r = post(master, body, {**JSON_HEADERS, "Mesos-Stream-Id": "stale"})
    assert r.status_code == 400
    assert "didn't match" in r.text
    assert framework.call({"type": "REVIVE"}).status_code == 202


def test_calls_missing_their_payload_are_400(framework: Framework) -> None:
    for kind, needle in [
        ("ACCEPT", "accept"),
        ("KILL", "kill"),
        ("ACKNOWLEDGE", "acknowledge"),
        ("RECONCILE", "reconcile"),
    ]:
        r = framework.call({"type": kind})
        assert r.status_code == 400, (kind, r.text)
        assert needle in r.text
    r = framework.call(
        {
            "type": "ACKNOWLEDGE",
            "acknowledge": {
                "agent_id": {"value": "a"},
                "task_id": {"value": "t"},
                "uuid": "c2hvcnQ=",
            },
        }
    )
    assert r.status_code == 400
    assert "16 bytes" in r.text
    r = framework.call({"type": "ACCEPT", "accept": {"offer_ids": "x"}})
    assert r.status_code == 400
    r = framework.call(
        {
            "type": "ACCEPT",
            "accept": {
                "offer_ids": [],
                "operations": [{"type": "LAUNCH", "launch": {"task_infos": [{"name": "x"}]}}],
            },
        }
    )
    assert r.status_code == 400
    assert "task_id" in r.text


def test_unknown_offer_loses_its_tasks(framework: Framework) -> None:
    offer = framework.offers()[0]
    task = task_info(offer, name="ghost")
    fake = {**offer, "id": {"value": "no-such-offer"}}
    framework.launch(fake, task)
    status = framework.next_update(task["task_id"]["value"])
    assert status["state"] == "TASK_DROPPED"  # PARTITION_AWARE; TASK_LOST otherwise
    assert status["reason"] == "REASON_INVALID_OFFERS"
    assert "no-such-offer" in status["message"]
    assert "uuid" not in status


def test_invalid_tasks_get_task_error_and_the_rest_launch(framework: Framework) -> None:
    offer = framework.offers()[0]
    too_big = task_info(offer, name="huge", cpus=1000)
    bad_id = task_info(offer, name="bad")
    bad_id["task_id"] = {"value": "a/b"}
    no_command = task_info(offer, name="empty", command=None)
    good = task_info(offer, name="good", command="sleep 1000")
    framework.launch(offer, too_big, bad_id, no_command, good)

    huge = framework.next_update(too_big["task_id"]["value"])
    assert (huge["state"], huge["reason"]) == ("TASK_ERROR", "REASON_TASK_INVALID")
    assert "more resources" in huge["message"]
    slash = framework.next_update("a/b")
    assert slash["state"] == "TASK_ERROR"
    assert "'/'" in slash["message"]
    empty = framework.next_update(no_command["task_id"]["value"])
    assert "command" in empty["message"]
    framework.wait_state(good["task_id"]["value"], "TASK_RUNNING")

    # The same id twice is refused.
    framework.call({"type": "REVIVE"})
    again = framework.offers()[0]
    dup = task_info(again, name="dup")
    dup["task_id"] = good["task_id"]
    framework.launch(again, dup)
    status = framework.next_update(good["task_id"]["value"])
    assert status["state"] == "TASK_ERROR"
    assert "already in use" in status["message"]
    framework.kill(good["task_id"]["value"])


def test_kill_and_reconcile_unknown_tasks(framework: Framework) -> None:
    framework.kill("never-launched")
    assert framework.next_update("never-launched")["state"] == "TASK_UNKNOWN"
    r = framework.call(
        {
            "type": "RECONCILE",
            "reconcile": {"tasks": [{"task_id": {"value": "ghost"}, "agent_id": {"value": "x"}}]},
        }
    )
    assert r.status_code == 202
    status = framework.next_update("ghost")
    assert status["state"] == "TASK_UNKNOWN"
    assert status["reason"] == "REASON_RECONCILIATION"


def test_disconnected_framework_gets_403(master: Master) -> None:
    fw = Framework(master.url, failover_timeout=300)
    fw.subscribe()
    stream_id = fw.stream_id
    fw.disconnect()
    body = {"type": "REVIVE", "framework_id": {"value": fw.framework_id}}

    def forbidden() -> bool:
        r = post(master, body, {**JSON_HEADERS, "Mesos-Stream-Id": stream_id or ""})
        return r.status_code == 403

    wait_for(forbidden, "the master to notice the framework disconnected")
    # Re-subscribing with the same id restores it, with a new stream.
    fw.subscribe()
    assert fw.stream_id != stream_id
    assert fw.call({"type": "REVIVE"}).status_code == 202
    fw.teardown()


def test_acknowledging_an_unknown_update_is_harmless(framework: Framework) -> None:
    r = framework.call(
        {
            "type": "ACKNOWLEDGE",
            "acknowledge": {
                "agent_id": {"value": "nope"},
                "task_id": {"value": "nope"},
                "uuid": random_uuid_b64(),
            },
        }
    )
    assert r.status_code == 202
