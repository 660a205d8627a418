"""The benchmark report plumbing: order statistics and the docs/benchmarks.md sections."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bench.__main__ import rerun_command
from bench.report import (
    KEEP_RUNS,
    Machine,
    Run,
    Table,
    render_run,
    summarize,
    update_section,
)

MACHINE = Machine(2, 23.5, "6.1.0", "Some CPU", "3.11.7")


def make_run(verdict: str = "met") -> Run:
    table = Table(("agents", "cpu"), (("0", "0.1"), ("1,000", "1.2")))
    return Run(
        "x", datetime(2026, 1, 2, 3, 4, tzinfo=UTC), MACHINE, ".venv/bin/python -m bench x",
        (table,), verdict, ("a note",),
    )  # fmt: skip


def test_summary_of_a_known_sample() -> None:
    s = summarize([0.3, 0.1, 0.2, 0.5, 0.4])
    assert (s.n, s.min, s.median, s.max) == (5, 0.1, 0.3, 0.5)
    assert math.isclose(s.p90, 0.46)  # rank 3.6 between 0.4 and 0.5


def test_summary_of_nothing_is_nan() -> None:
    assert math.isnan(summarize([]).median)


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=50))
def test_summary_is_ordered(values: list[float]) -> None:
    s = summarize(values)
    assert s.min <= s.median <= s.max
    assert s.min <= s.p90 <= s.max


def test_rendered_run_has_date_machine_command_table_and_verdict() -> None:
    text = render_run(make_run())
    assert "### Run of 2026-01-02 03:04 UTC" in text
    assert "2 CPUs (Some CPU), 23.5 GiB memory, Linux 6.1.0" in text
    assert "`.venv/bin/python -m bench x`" in text
    assert "| agents | cpu |\n|---|---|\n| 0 | 0.1 |\n| 1,000 | 1.2 |" in text
    assert text.endswith("**Verdict:** met")


def test_sections_are_created_updated_newest_first_and_bounded() -> None:
    doc = "# Benchmarks\n\nIntro.\n"
    doc = update_section(doc, "other", "## other", "### Run of other")
    for i in range(KEEP_RUNS + 2):
        doc = update_section(doc, "x", f"## x v{i}", f"### Run {i}")
    assert doc.startswith("# Benchmarks\n\nIntro.\n")
    assert doc.count("<!-- bench:x -->") == 1
    assert "## x v6" in doc  # the header is rewritten
    assert "## x v5" not in doc
    runs = [f"### Run {i}" for i in range(KEEP_RUNS + 2) if f"### Run {i}\n" in doc]
    assert runs == [f"### Run {i}" for i in range(2, KEEP_RUNS + 2)]
    assert doc.index("### Run 6") < doc.index("### Run 2")
    assert "### Run of other" in doc  # other sections are untouched


def test_rerun_command_keeps_options_and_names_one_benchmark() -> None:
    argv = ["master-idle-agents", "docker-launch-latency", "--launches", "5", "--no-swarm"]
    names = ["master-idle-agents", "docker-launch-latency"]
    assert rerun_command(argv, names, "docker-launch-latency") == (
        ".venv/bin/python -m bench docker-launch-latency --launches 5 --no-swarm"
    )


def test_rerun_command_leaves_out_where_output_goes() -> None:
    argv = ["x", "--docs", "/tmp/b.md", "--workdir=/tmp/w", "--no-docs", "--idle-seconds", "9"]
    assert rerun_command(argv, ["x"], "x") == ".venv/bin/python -m bench x --idle-seconds 9"
