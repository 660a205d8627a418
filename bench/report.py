"""What a benchmark run produces, how it prints, and how it lands in docs/benchmarks.md.

A benchmark returns a ``Run``: its tables, a one-line verdict against its target, and
notes. ``render_run`` turns it into Markdown; ``update_section`` puts that Markdown into
the benchmark's own section of docs/benchmarks.md (created if missing), newest run first,
keeping the last ``KEEP_RUNS`` runs so regressions stay visible next to older figures.

Sections are delimited by HTML comments, so the rest of the file is free text:

    <!-- bench:NAME -->
    ## NAME ...            (header: what it measures, the target)
    <!-- run -->
    ### Run of ...         (one block per run)
    <!-- /bench:NAME -->
"""

from __future__ import annotations

import math
import os
import platform
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

KEEP_RUNS = 5
RUN_MARK = "<!-- run -->"

DOCS_PREAMBLE = """# Benchmarks

Figures measured with `bench/` (see [bench/README.md](../bench/README.md) for how to run
each one and what it measures). Each section is rewritten by its benchmark: the newest run
first, up to five runs kept. Machines differ: compare figures within one run (they are
measured side by side), and across runs only on the same machine.
"""


@dataclass(frozen=True, slots=True)
class Machine:
    cpus: int
    memory_gib: float
    kernel: str
    cpu_model: str
    python: str

    def describe(self) -> str:
        """One line, e.g. ``2 CPUs (AMD EPYC), 23.5 GiB memory, Linux 6.1.0, Python 3.11.7``."""
        return (
            f"{self.cpus} CPUs ({self.cpu_model}), {self.memory_gib:.1f} GiB memory, "
            f"Linux {self.kernel}, Python {self.python}"
        )


def this_machine() -> Machine:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return Machine(
        cpus=cpus or 1,
        memory_gib=_meminfo_kib("MemTotal") / 2**20,
        kernel=platform.release(),
        cpu_model=_cpu_model(),
        python=platform.python_version(),
    )


def _meminfo_kib(key: str) -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine() or "unknown CPU"


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str = ""

    def markdown(self) -> str:
        lines = []
        if self.title:
            lines += [f"**{self.title}**", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)

    def text(self) -> str:
        """Aligned plain text for the terminal."""
        widths = [
            max(len(c), *(len(r[i]) for r in self.rows)) if self.rows else len(c)
            for i, c in enumerate(self.columns)
        ]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True))

        out = [self.title] if self.title else []
        out += [line(self.columns), line(["-" * w for w in widths])]
        out += [line(r) for r in self.rows]
        return "\n".join(out)


@dataclass(frozen=True, slots=True)
class Run:
    benchmark: str
    started: datetime
    machine: Machine
    command: str
    tables: tuple[Table, ...]
    verdict: str
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Summary:
    """min / median / p90 / max of a sample, in the sample's unit."""

    n: int
    min: float
    median: float
    p90: float
    max: float


def summarize(values: Sequence[float]) -> Summary:
    """Order statistics; p90 by linear interpolation between closest ranks.

    >>> s = summarize([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    >>> s.n, s.min, s.median, round(s.p90, 6), s.max
    (10, 1, 5.5, 9.1, 10)
    """
    if not values:
        nan = math.nan
        return Summary(0, nan, nan, nan, nan)
    ordered = sorted(values)
    return Summary(
        n=len(ordered),
        min=ordered[0],
        median=statistics.median(ordered),
        p90=_quantile(ordered, 0.9),
        max=ordered[-1],
    )


def _quantile(ordered: Sequence[float], q: float) -> float:
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    # Rounding must not push the result outside its two neighbours.
    return min(max(value, ordered[low]), ordered[high])


def render_run(run: Run) -> str:
    stamp = run.started.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"### Run of {stamp}",
        "",
        f"- Machine: {run.machine.describe()}",
        f"- Command: `{run.command}`",
        "",
    ]
    for table in run.tables:
        parts += [table.markdown(), ""]
    if run.notes:
        parts += [f"- {note}" for note in run.notes]
        parts.append("")
    parts.append(f"**Verdict:** {run.verdict}")
    return "\n".join(parts)


def render_header(name: str, title: str, description: str, target: str) -> str:
    return "\n".join([f"## {name}: {title}", "", description.strip(), "", f"**Target:** {target}"])


def update_section(document: str, name: str, header: str, run_markdown: str) -> str:
    """``document`` with the section of ``name`` holding ``header`` and ``run_markdown``
    first, then up to ``KEEP_RUNS - 1`` earlier runs; other sections are untouched.

    >>> doc = update_section("# B\\n", "x", "## x", "### Run 1")
    >>> doc = update_section(doc, "x", "## x", "### Run 2")
    >>> doc.index("Run 2") < doc.index("Run 1")
    True
    """
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    pattern = re.compile(re.escape(start) + r"\n(.*?)" + re.escape(end) + r"\n?", re.DOTALL)
    match = pattern.search(document)
    earlier: list[str] = []
    if match:
        earlier = [r.strip() for r in match.group(1).split(RUN_MARK)[1:] if r.strip()]
    runs = [run_markdown.strip(), *earlier][:KEEP_RUNS]
    body = header.strip() + "\n\n" + "".join(f"{RUN_MARK}\n{r}\n\n" for r in runs)
    section = f"{start}\n{body.rstrip()}\n{end}\n"
    if match:
        return document[: match.start()] + section + document[match.end() :]
    return document.rstrip() + "\n\n" + section


def write_run(path: Path, name: str, header: str, run: Run) -> None:
    document = path.read_text() if path.exists() else DOCS_PREAMBLE
    path.write_text(update_section(document, name, header, render_run(run)))


def now() -> datetime:
    return datetime.now(UTC)


def fmt(value: float, digits: int = 1) -> str:
    """A number for a table; NaN (nothing measured) prints as an em dash."""
    return "—" if math.isnan(value) else f"{value:.{digits}f}"
