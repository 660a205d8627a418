"""ui-services: the web UI's services page with 1,000 apps — first render and filtering.

One master, one real agent (process containerizer), ``berth marathon`` and ``berth
gateway``. The benchmark stores N apps (default 1,000) through the API as
marathon-api-latency does (groups of 100, all but a few with ``instances: 0``), then drives
Debian's Chromium (Playwright, ``/usr/bin/chromium``) to the gateway's UI.

Both figures come from performance marks the UI sets itself:

- first render: a fresh browser context (empty cache) opens ``#/services?q=app`` (every
  app, flat, so the whole list is filtered and laid out); the time is the
  ``services-rendered`` mark (set in the animation frame after the first rows are in the
  table), measured from navigation start. It includes loading
  the page, its modules, ``berth-ui.json`` and the three API reads.
- filter: typing into the filter box (Playwright ``fill``: one input event) until the list
  is redrawn — the ``services-filter`` measure, from the input event's mark to the mark in
  the animation frame after the redraw.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.marathon_api_latency import GROUP_SIZE, app_definition, percentile
from bench.marathon_launch import MarathonClient, close_services, start_marathon
from bench.report import Run, Table, fmt, now, this_machine
from bench.services import Services
from tests.cluster import wait_for

NAME = "ui-services"
TITLE = "Web UI services page with 1,000 apps: first render and filter latency"
DESCRIPTION = """
The web UI's services page with 1,000 apps stored (990 with `instances: 0`, 10 running
one `sleep` each; process containerizer, one real agent), served by `berth gateway` and
driven in Debian's Chromium (headless) through Playwright. **First render**: a fresh
browser context (empty cache) opens the services list with every app shown flat
(`#/services?q=app`); the time is from navigation start to the UI's `services-rendered`
performance mark, set in the animation frame after the first rows are in the table (so it
includes loading the modules, `berth-ui.json` and the three API reads). **Filter**: typing
a filter text (one input event) until the list is redrawn, the UI's `services-filter`
measure (from the input event to the animation frame after the redraw); several texts,
from ones matching most apps to ones matching none.
"""
TARGET = "First render under 1 s and filter under 100 ms (p90), with 1,000 apps."

RENDER_TARGET_MS = 1000.0
FILTER_TARGET_MS = 100.0
AGENT_RESOURCES = "cpus:8;mem:8192;ports:[31500-31999]"
CHROMIUM = "/usr/bin/chromium"
# From matching (almost) everything to nothing, and back to the full list.
FILTERS = ("app", "app-0", "g05", "app-09", "app-0999", "no-such-app", "")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(NAME)
    group.add_argument("--ui-apps", type=int, default=1000, help="apps to store (1000)")
    group.add_argument("--ui-running-apps", type=int, default=10, help="of which running (10)")
    group.add_argument(
        "--ui-loads", type=int, default=10, help="timed page loads, each in a fresh context (10)"
    )
    group.add_argument(
        "--ui-filter-rounds", type=int, default=10, help="rounds over the filter texts (10)"
    )


@dataclass
class Result:
    apps: int
    render_ms: list[float] = field(default_factory=list)
    filter_ms: dict[str, list[float]] = field(default_factory=dict)
    rows_in_dom: int = 0
    rows_listed: int = 0


def measure(args: argparse.Namespace, workdir: Path) -> Result:
    from playwright.sync_api import sync_playwright

    workdir.mkdir(parents=True, exist_ok=True)
    services = Services(workdir)
    result = Result(args.ui_apps)
    client: MarathonClient | None = None
    try:
        _, master_url = services.start_master()
        services.start_agent(master_url, AGENT_RESOURCES, "--containerizers", "process")
        _, marathon_url = start_marathon(services, master_url)
        _, gateway_url = services.start_gateway(master_url, marathon_url)
        client = MarathonClient(marathon_url)
        step = max(1, args.ui_apps // max(1, args.ui_running_apps))
        running = {i * step for i in range(min(args.ui_running_apps, args.ui_apps))}
        for i in range(args.ui_apps):
            client.create(app_definition(i, 1 if i in running else 0))
            if (i + 1) % 250 == 0:
                print(f"[{NAME}] {i + 1}/{args.ui_apps} apps created", flush=True)
        wait_for(lambda: not client.deployments(), "the deployments to finish", timeout=300)

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                for _ in range(1 + args.ui_loads):  # the first load is a warm-up
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    page.goto(gateway_url + "/#/services?q=app")
                    page.wait_for_function(
                        "performance.getEntriesByName('services-rendered').length > 0",
                        timeout=60_000,
                    )
                    mark = page.evaluate(
                        "performance.getEntriesByName('services-rendered')[0].startTime"
                    )
                    result.render_ms.append(float(mark))
                    result.rows_in_dom = page.locator(
                        "table.services tbody tr:not(.spacer)"
                    ).count()
                    context.close()
                result.render_ms = result.render_ms[1:]

                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(gateway_url + "/#/services?q=app")
                page.wait_for_function(
                    "performance.getEntriesByName('services-rendered').length > 0"
                )
                result.rows_listed = int(
                    page.evaluate("document.querySelector('.count').textContent.match(/\\d+/)[0]")
                )
                box = page.locator("#service-filter")
                result.filter_ms = {text: [] for text in FILTERS}
                for _ in range(args.ui_filter_rounds):
                    for text in FILTERS:
                        page.evaluate("performance.clearMeasures('services-filter')")
                        box.fill(text)
                        page.wait_for_function(
                            "performance.getEntriesByName('services-filter').length > 0"
                        )
                        duration = page.evaluate(
                            "performance.getEntriesByName('services-filter')[0].duration"
                        )
                        result.filter_ms[text].append(float(duration))
                context.close()
            finally:
                browser.close()
    finally:
        if client is not None:
            client.close()
        close_services(services)
    return result


def verdict(result: Result) -> str:
    """One line judging first render and filter latency against the targets.

    >>> verdict(Result(1000, [300.0] * 5, {"a": [10.0] * 5})).split(":")[0]
    'met with 1,000 apps'
    """
    if not result.render_ms or not result.filter_ms:
        return "not judged: nothing measured"
    render = percentile(result.render_ms, 0.9)
    all_filters = [v for values in result.filter_ms.values() for v in values]
    filt = percentile(all_filters, 0.9)
    ok = render < RENDER_TARGET_MS and filt < FILTER_TARGET_MS
    word = "met" if ok else "NOT met"
    return (
        f"{word} with {result.apps:,} apps: first render p90 {render:.0f} ms "
        f"(target < {RENDER_TARGET_MS:.0f} ms), filter p90 {filt:.1f} ms "
        f"(target < {FILTER_TARGET_MS:.0f} ms)"
    )


def _stats(values: list[float]) -> tuple[str, ...]:
    if not values:
        return ("0", "—", "—", "—", "—")
    return (
        str(len(values)),
        fmt(percentile(values, 0.5), 1),
        fmt(percentile(values, 0.9), 1),
        fmt(max(values), 1),
        fmt(min(values), 1),
    )


def run(args: argparse.Namespace, command: str, workdir: Path) -> Run:
    started = now()
    t0 = time.perf_counter()
    result = measure(args, workdir)
    columns = ("what", "n", "p50 (ms)", "p90 (ms)", "max (ms)", "min (ms)")
    render = Table(
        columns,
        (("first render (navigation start → rows shown)", *_stats(result.render_ms)),),
        title=f"Services page, {result.apps:,} apps listed",
    )
    filters = Table(
        columns,
        tuple(
            (f"filter `{text}`" if text else "filter cleared (back to all)", *_stats(values))
            for text, values in result.filter_ms.items()
        ),
        title="Typing in the filter (input event → list redrawn)",
    )
    notes: tuple[str, ...] = (
        f"{result.rows_listed:,} apps listed; {result.rows_in_dom} table rows in the DOM at "
        "first render (the list draws only the rows in view, plus a margin).",
        f"Apps in groups of {GROUP_SIZE} (`/bench/gNN/app-NNNN`), created through "
        "`POST /v2/apps` as in marathon-api-latency; one unrecorded warm-up load first.",
        f"Headless Debian Chromium, viewport 1280x900; whole run {time.perf_counter() - t0:.0f} s.",
    )
    if not math.isfinite(sum(result.render_ms)):
        notes = (*notes, "some loads did not render")
    return Run(NAME, started, this_machine(), command, (render, filters), verdict(result), notes)
