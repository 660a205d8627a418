"""The web UI end to end: Chromium on the gateway's UI, against a real cluster.

Every wait is one of Playwright's auto-waiting ``expect`` assertions (or a deadline poll
of the API); nothing sleeps. Each test takes its own app ids, so they share one cluster.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.cluster import task_port_range, wait_for
from tests.e2e.conftest import UiCluster, screenshot

MARKER = "berth-e2e-known-line"
LONG_RUNNING = f"echo {MARKER}; while true; do sleep 1; done"


def test_create_run_scale_logs_destroy(page: Page, ui_cluster: UiCluster) -> None:
    page.goto(ui_cluster.url + "/#/create")
    page.get_by_label("ID", exact=True).fill("/e2e/hello")
    page.get_by_label("Command", exact=True).fill(LONG_RUNNING)
    page.get_by_label("CPUs").fill("0.1")
    page.get_by_label("Memory (MiB)").fill("32")
    page.get_by_label("Instances").fill("1")
    page.get_by_role("button", name="Create and deploy").click()

    # The detail page follows the event stream: Running without any reload.
    expect(page).to_have_url(re.compile(r"#/services/e2e/hello$"))
    rows = page.locator("table.instances tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".status")).to_have_text("Running")
    expect(page.locator("h1 .status")).to_have_text("Running")
    expect(rows.first.locator("a.addr")).to_have_text(re.compile(r"127\.0\.0\.1:\d+"))
    screenshot(page, "service-detail")

    # Scale to 2 through the dialog; the toast names the deployment it started.
    page.get_by_role("button", name="Scale").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Instances").fill("2")
    dialog.get_by_role("button", name="Scale").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".toast").last).to_contain_text("started deployment")
    expect(page.locator("table.instances tbody tr .status", has_text="Running")).to_have_count(2)

    # Logs: the known line, read from the agent's sandbox through the gateway.
    page.get_by_role("link", name="Logs", exact=True).first.click()
    expect(page.locator("#log-output")).to_contain_text(MARKER)
    screenshot(page, "logs")

    # The services list shows the group, then the app inside it.
    page.goto(ui_cluster.url + "/#/services")
    expect(page.locator("tr.group", has_text="e2e")).to_be_visible()
    page.get_by_role("link", name=re.compile("e2e")).first.click()
    expect(page.locator("tr", has_text="hello").locator(".status")).to_have_text("Running")

    # Destroy, confirmed; the app disappears from the list.
    page.get_by_role("link", name="hello").click()
    page.get_by_role("button", name="Destroy").click()
    page.get_by_role("dialog").get_by_role("button", name="Destroy service").click()
    expect(page.get_by_text("This service no longer exists")).to_be_visible()
    assert ui_cluster.api("GET", "/v2/apps/e2e/hello").status_code == 404


def test_validation_error_is_shown_on_its_field(page: Page, ui_cluster: UiCluster) -> None:
    page.goto(ui_cluster.url + "/#/create")
    page.get_by_label("ID", exact=True).fill("/e2e/invalid")
    page.get_by_label("Command", exact=True).fill("sleep 100")
    page.get_by_label("CPUs").fill("-1")
    page.get_by_role("button", name="Create and deploy").click()

    # Marathon answers 422 with details[].path "/cpus": the message sits under CPUs.
    cpus_error = page.locator("#error-cpus")
    expect(cpus_error).to_be_visible()
    expect(cpus_error).to_contain_text("error.min")
    expect(page.get_by_label("CPUs")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-mem")).to_be_hidden()
    screenshot(page, "create-validation")

    # The JSON editor holds the same definition; its errors are listed above it by path.
    page.get_by_role("button", name="JSON", exact=True).click()
    editor = page.locator("#json-editor")
    expect(editor).to_be_visible()
    assert '"cpus": -1' in editor.input_value()
    page.get_by_role("button", name="Create and deploy").click()
    expect(page.locator("#form-errors")).to_contain_text("/cpus")
    page.get_by_role("button", name="Form", exact=True).click()

    # Fixing the field clears the error and creates the app.
    page.get_by_label("CPUs").fill("0.1")
    page.get_by_label("Memory (MiB)").fill("16")
    page.get_by_label("Instances").fill("0")
    page.get_by_role("button", name="Create and deploy").click()
    expect(page).to_have_url(re.compile(r"#/services/e2e/invalid$"))
    expect(page.locator("h1 .status")).to_have_text("Suspended")
    assert ui_cluster.api("DELETE", "/v2/apps/e2e/invalid").ok


def test_roll_back_a_version(page: Page, ui_cluster: UiCluster) -> None:
    app = {"id": "/e2e/rollback", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 0}
    assert ui_cluster.api("POST", "/v2/apps", app).status_code == 201
    wait_for(lambda: not ui_cluster.api("GET", "/v2/deployments").json(), "create to deploy")

    # A second version, made in the edit form.
    page.goto(ui_cluster.url + "/#/services/e2e/rollback")
    page.get_by_role("link", name="Edit", exact=True).click()
    command = page.get_by_label("Command", exact=True)
    expect(command).to_have_value("sleep 1000")
    command.fill("sleep 2000")
    page.get_by_role("button", name="Save and deploy").click()
    expect(page).to_have_url(re.compile(r"#/services/e2e/rollback$"))
    wait_for(
        lambda: ui_cluster.api("GET", "/v2/apps/e2e/rollback").json()["app"]["cmd"] == "sleep 2000",
        "the edit to be stored",
    )

    page.get_by_role("link", name="Versions").click()
    rows = page.locator("table.versions tbody tr")
    expect(rows).to_have_count(2)
    # The diff between the two shows the command change.
    diff = page.locator("pre.diff")
    expect(diff.locator(".del")).to_contain_text('"cmd": "sleep 1000"')
    expect(diff.locator(".add")).to_contain_text('"cmd": "sleep 2000"')

    rows.nth(1).get_by_role("button", name="Roll back to this").click()
    page.get_by_role("dialog").get_by_role("button", name="Roll back").click()
    expect(page.locator(".toast").last).to_contain_text("Rollback started deployment")
    wait_for(
        lambda: ui_cluster.api("GET", "/v2/apps/e2e/rollback").json()["app"]["cmd"] == "sleep 1000",
        "the rollback to restore the old command",
    )
    # A rollback is a new version, listed live.
    page.get_by_role("link", name="Configuration").click()
    expect(page.locator("pre.code")).to_contain_text('"cmd": "sleep 1000"')
    page.get_by_role("link", name="Versions").click()
    expect(page.locator("table.versions tbody tr")).to_have_count(3)
    assert ui_cluster.api("DELETE", "/v2/apps/e2e/rollback").ok


def test_pages_overview_services_deployments_nodes(page: Page, ui_cluster: UiCluster) -> None:
    running = {"id": "/e2e/pages/web", "cmd": LONG_RUNNING, "cpus": 0.1, "mem": 16}
    # Asks for more CPU than the agent has: its deployment waits, so it can be seen.
    stuck = {"id": "/e2e/pages/too-big", "cmd": "sleep 100", "cpus": 64, "mem": 16}
    page.goto(ui_cluster.url + "/#/overview")
    expect(page.locator("#live")).to_have_text("Live")
    # Created after the page opened: the overview follows them through the event stream.
    for app in (running, stuck):
        r = ui_cluster.api("POST", "/v2/apps", app)
        assert r.status_code == 201, r.text
    expect(page.locator("#ov-instances + p")).to_have_text(re.compile(r"^1 running of \d+"))
    expect(page.locator("ol.events")).to_contain_text("/e2e/pages/web")
    expect(page.locator("#ov-failures ~ ul")).to_contain_text("/e2e/pages/too-big")
    expect(page.get_by_text("active agent")).to_be_visible()
    expect(page.locator(".bar", has_text="CPU")).to_contain_text(re.compile(r"0\.\d+ / 2"))
    screenshot(page, "overview")

    page.goto(ui_cluster.url + "/#/services/e2e/pages")
    expect(page.locator("tr", has_text="web").locator(".status")).to_have_text("Running")
    # Offers come but none is big enough: Waiting (not just Deploying), and why.
    expect(page.locator("tr", has_text="too-big").locator(".status")).to_have_text("Waiting")
    # The filter narrows the list as one types.
    page.get_by_label("Filter services").fill("too")
    expect(page.locator("table.services tbody tr:not(.spacer)")).to_have_count(1)
    page.get_by_label("Filter services").fill("")
    screenshot(page, "services")

    page.get_by_role("link", name="Deployments").click()
    card = page.locator("article.deployment", has_text="/e2e/pages/too-big")
    expect(card).to_be_visible()
    expect(card).to_contain_text("Step")
    expect(card).to_contain_text(re.compile("insufficient cpus", re.IGNORECASE))
    screenshot(page, "deployments")
    # Stop it (forced cancel): the deployment goes away, the app stays as it is.
    card.get_by_role("button", name="Stop").click()
    page.get_by_role("dialog").get_by_role("button", name="Stop deployment").click()
    expect(card).to_have_count(0)
    assert ui_cluster.api("GET", "/v2/apps/e2e/pages/too-big").ok

    # Roll back another stuck deployment: marathon reverts it (a new app is removed).
    bigger = {"id": "/e2e/pages/too-big-2", "cmd": "sleep 100", "cpus": 65, "mem": 16}
    assert ui_cluster.api("POST", "/v2/apps", bigger).status_code == 201
    card = page.locator("article.deployment", has_text="/e2e/pages/too-big-2")
    card.get_by_role("button", name="Roll back").click()
    page.get_by_role("dialog").get_by_role("button", name="Roll back").click()
    expect(page.locator(".toast").last).to_contain_text("Rollback started deployment")
    wait_for(
        lambda: ui_cluster.api("GET", "/v2/apps/e2e/pages/too-big-2").status_code == 404,
        "the rollback to remove the new app",
    )
    expect(card).to_have_count(0)

    page.get_by_role("link", name="Nodes").click()
    agent = page.locator("article.agent").first
    expect(agent.locator(".status").first).to_have_text("Active")
    expect(agent).to_contain_text("/e2e/pages/web")
    expect(agent.get_by_role("meter", name="CPU")).to_be_visible()
    screenshot(page, "nodes")

    for app in (running, stuck):
        ui_cluster.api("DELETE", f"/v2/apps{app['id']}?force=true")


def test_keyboard_dialog_traps_focus_and_closes_on_escape(
    page: Page, ui_cluster: UiCluster
) -> None:
    app = {"id": "/e2e/keys", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 0}
    assert ui_cluster.api("POST", "/v2/apps", app).status_code == 201
    page.goto(ui_cluster.url + "/#/services/e2e/keys")
    restart = page.get_by_role("button", name="Restart")
    restart.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    # Tab cycles inside the dialog.
    for _ in range(4):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('dialog') !== null")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(restart).to_be_focused()
    ui_cluster.api("DELETE", "/v2/apps/e2e/keys")


def test_served_by_marathon_alone(page: Page, ui_cluster: UiCluster) -> None:
    """Marathon serves the same UI at /ui/; without the gateway, Nodes and logs say so."""
    page.set_viewport_size({"width": 380, "height": 800})
    page.goto(ui_cluster.marathon.url + "/")  # marathon's / redirects to /ui/
    expect(page).to_have_url(re.compile(r"/ui/#/overview$"))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator("#live")).to_have_text("Live")
    page.get_by_role("link", name="Nodes").click()
    expect(page.locator(".notice")).to_contain_text("open the UI through the Berth gateway")
    page.get_by_role("link", name="Services", exact=True).click()
    expect(page.get_by_role("heading", name="Services")).to_be_visible()
    # Narrow screen: nothing makes the page scroll sideways.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 380, f"the page is {width}px wide on a 380px screen"

    # The same, behind the gateway's /service/marathon/ prefix.
    page.goto(ui_cluster.url + "/service/marathon/ui/#/services")
    expect(page.get_by_role("heading", name="Services")).to_be_visible()
    expect(page.locator("#live")).to_have_text("Live")
    expect(page.locator(".count")).to_contain_text("services")


def test_pure_modules_in_the_browser(page: Page, ui_cluster: UiCluster) -> None:
    """The UI's pure functions (line diff, app status rules, error placement), run in
    Chromium itself."""
    page.goto(ui_cluster.url + "/#/overview")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    results = page.evaluate(
        """async () => {
        const { diffLines } = await import("./js/diff.js");
        const { appStatus } = await import("./js/status.js");
        const { fieldFor } = await import("./js/views/create.js");
        const app = (o) => ({ instances: 2, tasksRunning: 2, tasksUnhealthy: 0,
                              deployments: [], ...o });
        return {
          diff: diffLines("a\\nb\\nc", "a\\nx\\nc"),
          same: diffLines("a\\nb", "a\\nb"),
          running: appStatus(app({})),
          deploying: appStatus(app({ deployments: [{ id: "d" }] })),
          suspended: appStatus(app({ instances: 0, tasksRunning: 0 })),
          unhealthy: appStatus(app({ tasksUnhealthy: 1 })),
          delayed: appStatus(app({ tasksRunning: 0 }),
                             { count: 2, delay: { overdue: false, timeLeftSeconds: 4 } }),
          waiting: appStatus(app({ tasksRunning: 1 }),
                             { count: 1, delay: { overdue: true, timeLeftSeconds: 0 } }),
          declined: appStatus(app({ tasksRunning: 0, deployments: [{ id: "d" }] }), {
            count: 2, delay: { overdue: true, timeLeftSeconds: 0 },
            processedOffersSummary: { unusedOffersCount: 3,
              lastUnusedOfferAt: "2026-01-01T00:00:02.000Z", lastUsedOfferAt: null } }),
          cpus: fieldFor("/cpus").name,
          image: fieldFor("/container/docker/image").name,
          health: fieldFor("/healthChecks(0)/path").name,
          none: fieldFor("/upgradeStrategy/minimumHealthCapacity"),
        };
    }"""
    )
    assert results == {
        "diff": [[" ", "a"], ["-", "b"], ["+", "x"], [" ", "c"]],
        "same": [[" ", "a"], [" ", "b"]],
        "running": "running",
        "deploying": "deploying",
        "suspended": "suspended",
        "unhealthy": "unhealthy",
        "delayed": "delayed",
        "waiting": "waiting",
        "declined": "waiting",
        "cpus": "cpus",
        "image": "image",
        "health": "hcPath",
        "none": None,
    }


def test_unreachable_agent_is_marked(page: Page, own_ui_cluster: UiCluster) -> None:
    stack = own_ui_cluster
    doomed = stack.cluster.start_agent(
        stack.master, containerizers="process", attributes="rack:doomed", ports=task_port_range()
    )
    app = {
        "id": "/e2e/pinned",
        "cmd": LONG_RUNNING,
        "cpus": 0.1,
        "mem": 16,
        "constraints": [["rack", "CLUSTER", "doomed"]],
    }
    assert stack.api("POST", "/v2/apps", app).status_code == 201
    page.goto(stack.url + "/#/nodes")
    summary = page.locator(".nodes > p.muted").first
    expect(summary).to_contain_text("2 agents: 2 active")
    card = page.locator("article.agent", has_text="rack: doomed")
    expect(card).to_contain_text("/e2e/pinned")

    # The agent stops answering: the page marks it, in words, without a reload.
    doomed.process.kill()
    expect(summary).to_contain_text("1 unreachable")
    expect(page.locator("article.agent.unreachable .status").first).to_have_text("Unreachable")
    page.get_by_role("link", name="Overview").click()
    expect(page.locator("#ov-cluster ~ p .status.bad")).to_contain_text("1 unreachable")


def test_health_check_from_the_form(page: Page, ui_cluster: UiCluster) -> None:
    page.goto(ui_cluster.url + "/#/create")
    page.get_by_label("ID", exact=True).fill("/e2e/healthy")
    page.get_by_label("Command", exact=True).fill("exec python3 -m http.server $PORT0")
    page.get_by_label("CPUs").fill("0.1")
    page.get_by_label("Memory (MiB)").fill("64")
    page.get_by_label("Environment").fill("GREETING=hello world")
    page.get_by_label("Health check", exact=True).select_option("HTTP")
    page.get_by_label("Health check path or command").fill("/")
    page.get_by_role("button", name="Create and deploy").click()

    expect(page).to_have_url(re.compile(r"#/services/e2e/healthy$"))
    row = page.locator("table.instances tbody tr").first
    expect(row.locator("td").nth(2)).to_have_text("Healthy")
    expect(page.locator("dl.facts")).to_contain_text("1 healthy")
    stored = ui_cluster.api("GET", "/v2/apps/e2e/healthy").json()["app"]
    assert stored["healthChecks"][0]["protocol"] == "HTTP"
    assert stored["healthChecks"][0]["path"] == "/"
    assert stored["env"] == {"GREETING": "hello world"}
    assert ui_cluster.api("DELETE", "/v2/apps/e2e/healthy").ok
