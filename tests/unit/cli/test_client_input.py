"""App definitions from files and ``key=value`` (``appfile``), and task logs' pure parts
(``logs``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.cli.client.appfile import parse_assignments, read_definition, update_body
from berth.cli.client.errors import ClientError, ExitCode, UsageProblem
from berth.cli.client.logs import TaskRef, match_task, sandbox_of, start_offset


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "app.json"
    path.write_text('{\n  "id": "/a",\n  "cpus": ,\n}')
    with pytest.raises(UsageProblem) as e:
        read_definition(str(path))
    assert e.value.exit_code == ExitCode.USAGE
    assert str(path) in e.value.message
    assert "line 3 column 11" in e.value.message


@pytest.mark.parametrize(
    ("content", "expected"),
    [("", "is empty"), ("[1]", "holds a JSON list"), ('"x"', "holds a JSON str")],
)
def test_definitions_must_be_objects(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "app.json"
    path.write_text(content)
    with pytest.raises(UsageProblem, match=expected):
        read_definition(str(path))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageProblem, match="no such file"):
        read_definition(str(tmp_path / "nope.json"))
    with pytest.raises(UsageProblem, match="is a directory"):
        read_definition(str(tmp_path))


def test_assignments_are_json_when_they_parse_and_nest_on_dots() -> None:
    assert parse_assignments(
        ["instances=3", "cmd=sleep 10", "env.A=1", "env.B=b", 'labels={"x":"y"}', "x="]
    ) == {
        "instances": 3,
        "cmd": "sleep 10",
        "env": {"A": 1, "B": "b"},
        "labels": {"x": "y"},
        "x": "",
    }


@pytest.mark.parametrize("bad", [["instances"], ["=3"], ["a..b=1"], ["a=1", "a.b=2"]])
def test_bad_assignments(bad: list[str]) -> None:
    with pytest.raises(UsageProblem):
        parse_assignments(bad)


def test_update_body_takes_a_file_or_pairs(tmp_path: Path) -> None:
    path = tmp_path / "change.json"
    path.write_text('{"instances": 2}')
    assert update_body([str(path)]) == {"instances": 2}
    assert update_body(["instances=2"]) == {"instances": 2}


@given(st.lists(st.sampled_from(["a", "bb", "", "ccc", "é"]), max_size=12), st.integers(0, 15))
def test_start_offset_finds_the_last_lines(lines: list[str], n: int) -> None:
    text = "".join(line + "\n" for line in lines)
    offset = start_offset(text, 0, n, True)
    assert offset is not None
    tail = text.encode()[offset:].decode()
    assert tail.splitlines() == lines[-n:] if n else tail == ""


@given(st.lists(st.sampled_from(["a", "bb", "ccc"]), min_size=1, max_size=12), st.integers(1, 5))
def test_start_offset_asks_for_more_when_a_window_is_short(lines: list[str], n: int) -> None:
    text = "".join(line + "\n" for line in lines)
    # The window's first line may be the end of a longer one: it does not count.
    if len(lines) <= n:
        assert start_offset(text, 100, n, False) is None
    else:
        offset = start_offset(text, 100, n, False)
        assert offset is not None
        assert text.encode()[offset - 100 :].decode().splitlines() == lines[-n:]


TASKS = [
    TaskRef("web.a1", "S1", "F", "TASK_FINISHED"),
    TaskRef("web.a1", "S2", "F", "TASK_RUNNING"),
    TaskRef("web.b2", "S1", "F", "TASK_RUNNING"),
    TaskRef("db.c3", "S1", "F", "TASK_KILLED"),
]


def test_match_task_prefers_exact_ids_and_live_incarnations() -> None:
    assert match_task(TASKS, "web.a1") == TASKS[1]
    assert match_task(TASKS, "c3") == TASKS[3]
    with pytest.raises(ClientError, match="2 tasks match 'web'"):
        match_task(TASKS, "web")
    with pytest.raises(ClientError, match="no task matches"):
        match_task(TASKS, "zzz")


def test_sandbox_of_finds_running_and_completed_executors() -> None:
    state = {
        "frameworks": [
            {
                "executors": [{"id": "t1", "directory": "/s/t1", "tasks": [{"id": "t1"}]}],
                "completed_executors": [
                    {"id": "t2", "directory": "/s/t2", "completed_tasks": [{"id": "t2"}]}
                ],
            }
        ]
    }
    assert sandbox_of(state, TaskRef("t1", "S", "F", "")) == "/s/t1"
    assert sandbox_of(state, TaskRef("t2", "S", "F", "")) == "/s/t2"
    assert sandbox_of(state, TaskRef("t3", "S", "F", "")) is None
