"""Sandbox layout and the containment rules the /files API relies on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.agent.sandbox import (
    create_sandbox,
    is_within,
    open_within,
    resolve_within,
    sandbox_path,
    validate_id,
)
from berth.core.errors import Forbidden, InvalidInput, NotFound

IDS = ("M-S0", "M-0000", "web.1", "c-1")


def test_sandbox_path_is_the_mesos_layout() -> None:
    assert sandbox_path(Path("/w"), *IDS) == Path(
        "/w/slaves/M-S0/frameworks/M-0000/executors/web.1/runs/c-1"
    )


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "/", "x\0y", "tab\there"])
@pytest.mark.parametrize("position", range(4))
def test_ids_that_could_escape_are_refused(bad: str, position: int) -> None:
    ids = list(IDS)
    ids[position] = bad
    with pytest.raises(InvalidInput):
        sandbox_path(Path("/w"), *ids)


def test_container_id_latest_is_reserved_for_the_symlink() -> None:
    with pytest.raises(InvalidInput, match="reserved"):
        sandbox_path(Path("/w"), "a", "f", "e", "latest")


@given(st.text(min_size=1))
def test_a_valid_id_is_exactly_one_path_component(value: str) -> None:
    try:
        validate_id(value, path="id")
    except InvalidInput:
        return
    assert Path(value).name == value
    assert len(Path("/w", value).parts) == 3


def test_create_sandbox_makes_files_and_latest(tmp_path: Path) -> None:
    run = create_sandbox(tmp_path, *IDS)
    assert run == sandbox_path(tmp_path, *IDS)
    assert (run / "stdout").read_bytes() == b""
    assert (run / "stderr").read_bytes() == b""
    latest = run.parent / "latest"
    assert latest.is_symlink()
    assert os.readlink(latest) == "c-1"  # relative: survives moving the work dir
    assert latest.resolve() == run.resolve()


def test_latest_follows_the_newest_run_and_old_output_is_kept(tmp_path: Path) -> None:
    first = create_sandbox(tmp_path, "a", "f", "e", "c1")
    (first / "stdout").write_text("first run\n")
    second = create_sandbox(tmp_path, "a", "f", "e", "c2")
    assert (second.parent / "latest").resolve() == second.resolve()
    assert (first / "stdout").read_text() == "first run\n"
    # Re-creating an existing run (agent recovery) truncates nothing.
    create_sandbox(tmp_path, "a", "f", "e", "c1")
    assert (first / "stdout").read_text() == "first run\n"
    assert (second.parent / "latest").resolve() == first.resolve()
    assert sorted(p.name for p in first.parent.iterdir()) == ["c1", "c2", "latest"]


# --------------------------------------------------------------------------------------
# resolve_within


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return _build_tree(tmp_path)


def _build_tree(tmp_path: Path) -> Path:
    """root/ (served) with a file, a subdir, links in and out; outside/secret beside it."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "stdout").write_text("hello")
    (root / "sub" / "f").write_text("nested")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("no")
    (tmp_path / "rootx").mkdir()  # shares a string prefix with root
    (tmp_path / "rootx" / "f").write_text("no")
    os.symlink(tmp_path / "outside", root / "escape")
    os.symlink("/etc", root / "etc")
    os.symlink("sub", root / "inner")
    os.symlink("../outside/secret", root / "dotdot")
    return tmp_path


def test_paths_inside_resolve_to_real_files(tree: Path) -> None:
    root = tree / "root"
    assert resolve_within([root], f"{root}/stdout") == root / "stdout"
    assert resolve_within([root], f"{root}//sub/./f") == root / "sub" / "f"
    assert resolve_within([root], f"{root}/inner/f") == root / "sub" / "f"
    assert resolve_within([root], f"{root}/sub/../stdout") == root / "stdout"
    assert resolve_within([root], str(root)) == root


@pytest.mark.parametrize(
    "suffix",
    [
        "/../outside/secret",
        "/../../../../etc/passwd",
        "/escape/secret",
        "/etc/passwd",
        "/dotdot",
        "/inner/../../outside/secret",
        "x/f",  # {root}x/f: a sibling that merely shares the prefix
    ],
)
def test_escapes_are_forbidden(tree: Path, suffix: str) -> None:
    root = tree / "root"
    with pytest.raises(Forbidden):
        resolve_within([root], f"{root}{suffix}")


def test_outside_is_forbidden_whether_or_not_it_exists(tree: Path) -> None:
    root = tree / "root"
    with pytest.raises(Forbidden):
        resolve_within([root], "/no/such/file")
    with pytest.raises(Forbidden):
        resolve_within([root], "/etc/passwd")


@pytest.mark.parametrize("requested", ["", "relative/path", "stdout", "/x\0/y"])
def test_malformed_paths_are_not_found(tree: Path, requested: str) -> None:
    with pytest.raises(NotFound):
        resolve_within([tree / "root"], requested)


def test_missing_inside_is_not_found(tree: Path) -> None:
    root = tree / "root"
    with pytest.raises(NotFound):
        resolve_within([root], f"{root}/nope")


def test_a_root_reached_through_a_symlink(tree: Path) -> None:
    os.symlink(tree / "root", tree / "alias")
    alias = tree / "alias"
    assert resolve_within([alias], f"{alias}/stdout") == tree / "root" / "stdout"
    assert resolve_within([alias], f"{tree}/root/stdout") == tree / "root" / "stdout"
    with pytest.raises(Forbidden):
        resolve_within([alias], f"{alias}/../outside/secret")


def test_no_roots_serves_nothing(tree: Path) -> None:
    with pytest.raises(Forbidden):
        resolve_within([], str(tree / "root" / "stdout"))


def test_virtual_mounts(tree: Path) -> None:
    log = tree / "outside" / "secret"
    mounts = {"/slave/log": log, "/sandbox": tree / "root"}
    assert resolve_within([], "/slave/log", virtual=mounts) == log
    assert resolve_within([], "/slave/log/", virtual=mounts) == log
    assert resolve_within([], "/sandbox/sub/f", virtual=mounts) == tree / "root" / "sub" / "f"
    with pytest.raises(NotFound):  # a file mount has no children
        resolve_within([], "/slave/log/x", virtual=mounts)
    with pytest.raises(Forbidden):  # a mount is its own root
        resolve_within([], "/sandbox/../outside/secret", virtual=mounts)
    with pytest.raises(Forbidden):
        resolve_within([], "/sandbox/escape/secret", virtual=mounts)


def test_open_within_opens_inside_and_judges_planted_links_by_target(tree: Path) -> None:
    root = tree / "root"
    fd, real, allowed = open_within([root], f"{root}/stdout")
    try:
        assert os.read(fd, 10) == b"hello"
        assert real == root / "stdout"
        assert allowed == (root,)
    finally:
        os.close(fd)
    os.symlink(tree / "outside" / "secret", root / "late")
    with pytest.raises(Forbidden):
        open_within([root], f"{root}/late")


def test_open_within_does_not_hang_on_a_fifo(tree: Path) -> None:
    root = tree / "root"
    os.mkfifo(root / "pipe")
    fd, _, _ = open_within([root], f"{root}/pipe")
    os.close(fd)


def test_is_within_is_component_wise() -> None:
    assert is_within(Path("/a/b"), [Path("/a/b")])
    assert is_within(Path("/a/b/c"), [Path("/a/b")])
    assert not is_within(Path("/a/bc"), [Path("/a/b")])
    assert not is_within(Path("/a"), [Path("/a/b")])


@pytest.fixture(scope="module")
def fixed_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Module-scoped: hypothesis runs many examples per test call and must not share a
    # function-scoped fixture between them; this tree is never modified.
    return _build_tree(tmp_path_factory.mktemp("fixed"))


@given(
    parts=st.lists(
        st.sampled_from(["..", ".", "", "sub", "inner", "escape", "etc", "dotdot", "stdout", "x"]),
        max_size=8,
    )
)
def test_whatever_is_resolved_lies_inside_the_root(fixed_tree: Path, parts: list[str]) -> None:
    root = fixed_tree / "root"
    requested = str(root) + "/" + "/".join(parts)
    try:
        resolved = resolve_within([root], requested)
    except (Forbidden, NotFound):
        return
    assert resolved == Path(os.path.realpath(resolved))
    assert is_within(resolved, [root])
