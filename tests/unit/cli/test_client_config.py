"""Which cluster a client command talks to: flags, then environment, then the saved
configuration, then the default; and the saved file itself."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.cli.client.config import (
    DEFAULT_URL,
    Saved,
    config_path,
    dumps,
    load,
    normalize_url,
    resolve,
    save,
)
from berth.cli.client.errors import UsageProblem

SAVED = Saved(url="http://saved:8000", marathon_url="http://m:8080", master_url="http://ms:5050")


def test_the_default_is_the_local_gateway() -> None:
    e = resolve(url=None, marathon_url=None, master_url=None, env={}, saved=Saved())
    assert (e.url, e.source) == (DEFAULT_URL, "default")
    assert e.marathon == DEFAULT_URL + "/service/marathon"
    assert e.master == DEFAULT_URL + "/mesos"
    assert e.direct_agents is False
    assert e.agent("S1", "slave(1)@10.0.0.1:5051") == DEFAULT_URL + "/agent/S1"


def test_saved_config_beats_the_default_and_brings_its_direct_urls() -> None:
    e = resolve(url=None, marathon_url=None, master_url=None, env={}, saved=SAVED, saved_from="f")
    assert (e.url, e.source) == ("http://saved:8000", "f")
    assert (e.marathon, e.master) == ("http://m:8080", "http://ms:5050")
    assert e.direct_agents is True
    assert e.agent("S1", "slave(1)@10.0.0.1:5051") == "http://10.0.0.1:5051"


def test_environment_beats_saved_config_and_drops_its_direct_urls() -> None:
    e = resolve(
        url=None,
        marathon_url=None,
        master_url=None,
        env={"BERTH_URL": "gw:9000"},
        saved=SAVED,
        saved_from="f",
    )
    assert (e.url, e.source) == ("http://gw:9000", "BERTH_URL")
    # Another cluster's marathon is never mixed in.
    assert e.marathon == "http://gw:9000/service/marathon"
    assert e.master == "http://gw:9000/mesos"


def test_flag_beats_environment() -> None:
    e = resolve(
        url="https://flag.example/",
        marathon_url=None,
        master_url=None,
        env={"BERTH_URL": "http://env"},
        saved=SAVED,
    )
    assert (e.url, e.source) == ("https://flag.example", "--url")


def test_direct_urls_from_flags_then_environment() -> None:
    env = {"BERTH_MARATHON_URL": "http://env-m:8080", "BERTH_MASTER_URL": "http://env-ms:5050"}
    e = resolve(url=None, marathon_url="m:1", master_url=None, env=env, saved=Saved())
    assert e.marathon == "http://m:1"
    assert e.master == "http://env-ms:5050"
    assert e.direct_agents is True


@pytest.mark.parametrize("bad", ["", "   ", "ftp://x", "file:///etc"])
def test_bad_urls_are_usage_problems(bad: str) -> None:
    with pytest.raises(UsageProblem):
        normalize_url(bad)


def test_config_path_follows_xdg() -> None:
    assert config_path({"XDG_CONFIG_HOME": "/x"}) == Path("/x/berth/config.toml")
    assert config_path({"HOME": "/home/u"}) == Path("/home/u/.config/berth/config.toml")


def test_save_writes_a_private_file_that_load_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "berth" / "config.toml"
    path.parent.mkdir()
    path.write_text("old")
    path.chmod(0o644)
    save(path, SAVED)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load(path) == SAVED
    assert not [p for p in path.parent.iterdir() if p.name != "config.toml"]


def test_missing_config_is_empty_and_broken_config_says_how_to_fix(tmp_path: Path) -> None:
    assert load(tmp_path / "none.toml") == Saved()
    broken = tmp_path / "broken.toml"
    broken.write_text("[cluster\nurl = ")
    with pytest.raises(UsageProblem, match="berth cluster setup"):
        load(broken)


_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1)


@given(_text, st.one_of(st.none(), _text), st.one_of(st.none(), _text))
def test_any_strings_survive_the_hand_written_toml(
    url: str, marathon: str | None, master: str | None
) -> None:
    saved = Saved(url=url, marathon_url=marathon, master_url=master)
    data = tomllib.loads(dumps(saved))["cluster"]
    assert data.get("url") == url
    assert data.get("marathon_url") == marathon
    assert data.get("master_url") == master
