"""Fixtures for the web UI's end-to-end tests: a real cluster behind the gateway, and
Debian's Chromium driven by Playwright (its own browser downloads are never used)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.cluster import Cluster, Gateway, Marathon, Master

CHROMIUM = "/usr/bin/chromium"
# The pictures in docs/ui/ are these tests' screenshots: `BERTH_SCREENSHOTS=docs/ui
# scripts/test` (or pytest tests/e2e) refreshes them; otherwise they go to a scratch
# directory, so an ordinary test run leaves the working tree alone.

# Assertions wait for the condition up to this long (the suite runs next to others under
# xdist, and some states only show after the UI's periodic refresh, every 5 s when busy).
expect.set_options(timeout=20_000)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here drives a browser and takes a while."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)


@dataclass
class UiCluster:
    """Master, one process-containerizer agent, marathon, and the gateway serving the UI."""

    cluster: Cluster
    master: Master
    marathon: Marathon
    gateway: Gateway

    @property
    def url(self) -> str:
        return self.gateway.url

    def api(self, method: str, path: str, body: Any = None) -> requests.Response:
        """Marathon's API, straight (not through the browser)."""
        return requests.request(method, self.marathon.url + path, json=body, timeout=10)


@contextmanager
def ui_stack(root: Path) -> Iterator[UiCluster]:
    """Start master, agent, marathon and gateway under ``root``; stop them on exit."""
    cluster = Cluster(root)
    try:
        master = cluster.start_master()
        cluster.start_agent(master, containerizers="process")
        marathon = cluster.start_marathon(master)
        gateway = cluster.start_gateway(master, marathon)
        yield UiCluster(cluster, master, marathon, gateway)
    finally:
        # Playwright's sync API keeps an event loop running on this thread, and the
        # cluster's cleanup uses asyncio.run: do it on a thread of its own.
        closer = threading.Thread(target=cluster.close)
        closer.start()
        closer.join()


@pytest.fixture(scope="module")
def ui_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiCluster]:
    """One stack shared by a module's tests (each test uses its own app ids)."""
    with ui_stack(tmp_path_factory.mktemp("ui")) as stack:
        yield stack


@pytest.fixture
def own_ui_cluster(tmp_path: Path) -> Iterator[UiCluster]:
    """A stack for one test that disturbs it (stops an agent, say)."""
    with ui_stack(tmp_path) as stack:
        yield stack


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Chromium for one test. Not shared across tests: Playwright's sync API runs an event
    loop on this thread while it is open, and the other tests an xdist worker runs in
    between (asyncio ones) need the thread without one."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the UI tests need Debian's Chromium at {CHROMIUM}: run scripts/setup --test")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page on the gateway; JavaScript errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def screenshot(page: Page, name: str) -> None:
    """Save the page as <name>.png: in $BERTH_SCREENSHOTS (docs/ui/ for the documentation's
    pictures) when set, else in a scratch directory."""
    wanted = os.environ.get("BERTH_SCREENSHOTS")
    where = (
        Path(wanted).resolve() if wanted else Path(os.environ.get("TMPDIR", "/tmp")) / "berth-ui"
    )
    where.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(where / f"{name}.png"), full_page=True)


@pytest.fixture(autouse=True)
def _cluster_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """A failed test shows the end of the services' logs (their own account of it)."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed:
        return
    for name in ("ui_cluster", "own_ui_cluster"):
        if name in request.fixturenames:
            stack: UiCluster = request.getfixturevalue(name)
            print(stack.cluster.logs()[-30_000:])
