// One app: its instances, logs, configuration and versions, and the actions on it.
// Tabs live in the URL (#/services/<id>?tab=logs&task=<task id>) so every view has a link.

import { deploymentOf, marathon } from "../api.js";
import { confirmDialog } from "../dialog.js";
import { diffLines, stableJson } from "../diff.js";
import { ago, h, keepFocus, mib, num, replace, serviceHref, short, toast } from "../dom.js";
import { deploymentsOf, refresh, store, subscribe } from "../live.js";
import { declineReasons, taskHealth, taskLabel, taskTone } from "../status.js";
import { mountLogs } from "./logs.js";
import { breadcrumbs, statusBadge } from "./services.js";

const TABS = [
  ["instances", "Instances"],
  ["logs", "Logs"],
  ["config", "Configuration"],
  ["versions", "Versions"],
];

// Fields marathon adds to an app's answer that are not part of its definition.
const RUNTIME_FIELDS = [
  "tasks",
  "deployments",
  "tasksStaged",
  "tasksRunning",
  "tasksHealthy",
  "tasksUnhealthy",
  "lastTaskFailure",
  "taskStats",
  "readinessCheckResults",
  "versionInfo",
  "version",
];

/** The definition part of an AppInfo (what PUT accepts). */
export function definitionOf(app) {
  const def = { ...app };
  for (const k of RUNTIME_FIELDS) delete def[k];
  return def;
}

export function mount(node, id, route) {
  let tab = route.query.get("tab") || "instances";
  let tabCleanup = null;
  let tabName = null;
  const head = h("div");
  const banners = h("div", { class: "banners" });
  const tabBody = h("section", { class: "tab-body", id: "tab-body" });
  const tabNav = h("nav", { class: "tabs", "aria-label": "Service sections" });
  node.append(head, banners, tabNav, tabBody);

  function app() {
    return store.byId.get(id);
  }

  let headKey = null;
  function drawHead() {
    const a = app();
    // Redraw only on change, so a focused button (and a dialog's way back to it) survives.
    const key = a
      ? JSON.stringify([
          store.status.get(id),
          a.instances,
          a.tasksRunning,
          a.tasksHealthy,
          a.tasksUnhealthy,
          a.cpus,
          a.mem,
          a.container,
          a.version,
        ])
      : "gone";
    if (key === headKey) return;
    headKey = key;
    if (!a) {
      replace(
        head,
        breadcrumbs(id),
        h("h1", {}, id),
        h(
          "p",
          { class: "notice", role: "status" },
          "This service no longer exists. ",
          h("a", { href: "#/services" }, "Back to services"),
        ),
      );
      banners.replaceChildren();
      tabNav.hidden = true;
      tabBody.hidden = true;
      return;
    }
    keepFocus(head, () => drawHeadOf(a));
  }

  function drawHeadOf(a) {
    replace(
      head,
      breadcrumbs(id),
      h(
        "div",
        { class: "page-head" },
        h("div", {}, h("h1", {}, id, " ", statusBadge(store.status.get(id)))),
        h(
          "div",
          { class: "actions" },
          h("a", { class: "button", href: `#/edit${id}`, dataset: { focus: "edit" } }, "Edit"),
          h("button", { type: "button", onclick: scale, dataset: { focus: "scale" } }, "Scale"),
          h("button", { type: "button", onclick: restart, dataset: { focus: "restart" } }, "Restart"),
          h(
            "button",
            { type: "button", onclick: suspend, disabled: a.instances === 0, dataset: { focus: "suspend" } },
            "Suspend",
          ),
          h(
            "button",
            { type: "button", class: "danger", onclick: destroy, dataset: { focus: "destroy" } },
            "Destroy",
          ),
        ),
      ),
      h(
        "dl",
        { class: "facts" },
        fact("Instances", `${a.tasksRunning} running of ${a.instances}`),
        (a.healthChecks || []).length
          ? fact("Health", `${a.tasksHealthy} healthy, ${a.tasksUnhealthy} unhealthy`)
          : null,
        fact("CPU", num(a.cpus)),
        fact("Memory", mib(a.mem)),
        fact("Image", (a.container && a.container.docker && a.container.docker.image) || "–"),
        fact("Version", h("time", { datetime: a.version }, a.version)),
      ),
    );
  }

  function drawBanners() {
    const a = app();
    if (!a) return;
    const items = [];
    for (const d of deploymentsOf(id)) {
      const actions = (d.currentActions || []).map((c) => c.action).join(", ");
      items.push(
        h(
          "p",
          { class: "notice info", dataset: { deployment: d.id } },
          h("strong", {}, "Deploying: "),
          `deployment ${short(d.id)}, step ${d.currentStep} of ${d.totalSteps}${actions ? ` (${actions})` : ""}. `,
          h("a", { href: `#/deployments?id=${encodeURIComponent(d.id)}` }, "See deployment"),
        ),
      );
    }
    const q = store.queue.get(id);
    if (q && q.delay && q.delay.overdue === false && q.delay.timeLeftSeconds > 0) {
      items.push(
        h(
          "p",
          { class: "notice bad" },
          h("strong", {}, "Delayed: "),
          `launches back off after failures; next try in ${Math.ceil(q.delay.timeLeftSeconds)} s.`,
        ),
      );
    } else if (q && q.count > 0) {
      const reasons = declineReasons(q);
      items.push(
        h(
          "p",
          { class: "notice warn" },
          h("strong", {}, "Waiting: "),
          `${q.count} instance${q.count === 1 ? "" : "s"} waiting for resources.`,
          reasons.length ? ` Offers turned down: ${reasons.join("; ")}.` : "",
        ),
      );
    }
    const f = a.lastTaskFailure;
    if (f) {
      items.push(
        h(
          "p",
          { class: "notice muted" },
          h("strong", {}, "Last failure: "),
          `${taskLabel(f.state)} on ${f.host}, `,
          ago(f.timestamp),
          f.message ? ` — ${f.message}` : "",
        ),
      );
    }
    banners.replaceChildren(...items);
  }

  function drawTabs() {
    replace(
      tabNav,
      h(
        "ul",
        {},
        TABS.map(([key, label]) =>
          h(
            "li",
            {},
            h(
              "a",
              { href: `${serviceHref(id)}?tab=${key}`, "aria-current": key === tab ? "page" : null },
              label,
            ),
          ),
        ),
      ),
    );
  }

  function drawTab() {
    const a = app();
    if (!a) return;
    if (tabName !== tab) {
      if (tabCleanup) tabCleanup();
      tabCleanup = null;
      tabName = tab;
      tabBody.replaceChildren();
      configShown = null;
      instancesKey = null;
      if (tab === "logs") tabCleanup = mountLogs(tabBody, id, route);
      else if (tab === "versions") tabCleanup = mountVersions(tabBody, id);
    }
    if (tab === "instances") {
      // Redraw only on change, so keyboard focus inside the table survives refreshes.
      const key = JSON.stringify((a.tasks || []).map((t) => [t.id, t.state, taskHealth(t)])) + a.instances;
      if (key !== instancesKey) replace(tabBody, instancesTable(a));
      instancesKey = key;
    } else if (tab === "config") drawConfig(a);
  }

  let configShown = null;
  let instancesKey = null;
  function drawConfig(a) {
    if (configShown === a.version) return;
    configShown = a.version;
    replace(
      tabBody,
      h(
        "p",
        {},
        "The definition as stored for version ",
        h("code", {}, a.version),
        ". ",
        h("a", { href: `#/edit${id}` }, "Edit it"),
      ),
      h(
        "pre",
        { class: "code", tabindex: "0", "aria-label": "Configuration JSON" },
        JSON.stringify(definitionOf(a), null, 2),
      ),
    );
  }

  function draw() {
    drawHead();
    drawBanners();
    drawTabs();
    drawTab();
  }

  // Actions: each asks first, then shows the deployment it started.
  async function act(title, body, call, opts = {}) {
    const result = await confirmDialog({
      title,
      body,
      confirmLabel: opts.confirmLabel || title,
      danger: opts.danger,
      fields: opts.fields || [],
      action: async (values) => {
        const r = await call(values);
        await refresh();
        return r;
      },
    });
    if (!result || result === true) return;
    const dep = deploymentOf(result);
    toast(
      h(
        "span",
        {},
        `${title}: started deployment ${short(dep)}. `,
        dep ? h("a", { href: `#/deployments?id=${encodeURIComponent(dep)}` }, "Follow it") : null,
      ),
    );
  }

  function scale() {
    const a = app();
    return act(
      "Scale",
      h("p", {}, "How many instances of ", h("code", {}, id), " should run?"),
      (v) => marathon.scale(id, Number(v.instances)),
      {
        fields: [
          { name: "instances", label: "Instances", type: "number", min: "0", value: String(a.instances) },
        ],
      },
    );
  }
  function restart() {
    return act(
      "Restart",
      h(
        "p",
        {},
        "Replace every instance of ",
        h("code", {}, id),
        " with a new one, keeping the configuration (a rolling restart).",
      ),
      () => marathon.restart(id),
    );
  }
  function suspend() {
    return act(
      "Suspend",
      h(
        "p",
        {},
        "Stop every instance of ",
        h("code", {}, id),
        " (scale to 0). The service stays defined; scale it up to resume.",
      ),
      () => marathon.scale(id, 0),
    );
  }
  function destroy() {
    return act(
      "Destroy",
      h(
        "p",
        {},
        "Stop every instance of ",
        h("code", {}, id),
        " and delete the service with all its versions. This cannot be undone.",
      ),
      () => marathon.destroy(id),
      { danger: true, confirmLabel: "Destroy service" },
    );
  }

  function instancesTable(a) {
    const tasks = [...(a.tasks || [])].sort((x, y) =>
      String(x.startedAt || x.stagedAt || "").localeCompare(String(y.startedAt || y.stagedAt || "")),
    );
    if (!tasks.length)
      return h(
        "p",
        { class: "empty" },
        a.instances ? "No instances yet: waiting for resources." : "No instances: the service is suspended.",
      );
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "instances" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Instance", "Address", "State", "Health", "Agent", "Started", ""].map((t) =>
              h("th", { scope: "col" }, t),
            ),
          ),
        ),
        h(
          "tbody",
          {},
          tasks.map((t) => {
            const health = taskHealth(t);
            return h(
              "tr",
              { dataset: { task: t.id } },
              h("th", { scope: "row" }, h("code", { title: t.id }, instanceName(t.id))),
              h(
                "td",
                {},
                (t.ports || []).length
                  ? (t.ports || []).map((p) =>
                      h(
                        "a",
                        { href: `http://${t.host}:${p}/`, target: "_blank", rel: "noopener", class: "addr" },
                        `${t.host}:${p}`,
                      ),
                    )
                  : t.host || "–",
              ),
              h("td", {}, h("span", { class: `status ${taskTone(t.state)}` }, taskLabel(t.state))),
              h(
                "td",
                {},
                health
                  ? h(
                      "span",
                      { class: `status ${health === "healthy" ? "ok" : "bad"}` },
                      health === "healthy" ? "Healthy" : "Unhealthy",
                    )
                  : h("span", { class: "muted" }, "–"),
              ),
              h(
                "td",
                {},
                h("a", { href: `#/nodes?agent=${encodeURIComponent(t.slaveId)}`, title: t.slaveId }, t.host),
              ),
              h("td", {}, ago(t.startedAt || t.stagedAt)),
              h(
                "td",
                { class: "row-actions" },
                h("a", { href: `${serviceHref(id)}?tab=logs&task=${encodeURIComponent(t.id)}` }, "Logs"),
                h("button", { type: "button", class: "small", onclick: () => killTask(t) }, "Kill"),
              ),
            );
          }),
        ),
      ),
    );
  }

  function killTask(t) {
    return act(
      "Kill instance",
      h("p", {}, "Kill ", h("code", {}, t.id), "? Marathon starts a replacement."),
      () => marathon.killTask(id, t.id),
      {
        confirmLabel: "Kill",
        danger: true,
      },
    );
  }

  const unsubscribe = subscribe(draw);
  draw();
  return {
    update(r) {
      route = r;
      tab = r.query.get("tab") || "instances";
      if (tab === "logs" && tabName === "logs") {
        tabName = null; // another task chosen: remount the log view
      }
      draw();
    },
    cleanup() {
      unsubscribe();
      if (tabCleanup) tabCleanup();
    },
  };
}

function fact(label, value) {
  return h("div", {}, h("dt", {}, label), h("dd", {}, value));
}

/** "web_a.instance-5b9d1c2e-….._app.1" → "instance-5b9d1c2e" (enough to tell them apart). */
export function instanceName(taskId) {
  const m = /instance-([0-9a-f]{8})/.exec(taskId);
  return m ? `instance-${m[1]}` : taskId;
}

function mountVersions(node, id) {
  let alive = true;
  const list = h("div", {}, h("p", { class: "muted" }, "Loading versions…"));
  const diffBox = h("div", { class: "diff-box" });
  node.append(list, diffBox);
  const cache = new Map();
  const load = async (v) => {
    if (!cache.has(v)) cache.set(v, marathon.version(id, v));
    return cache.get(v);
  };

  async function draw() {
    let versions;
    try {
      versions = await marathon.versions(id);
    } catch (e) {
      replace(list, h("p", { class: "error", role: "alert" }, e.message));
      return;
    }
    if (!alive) return;
    const current = store.byId.get(id)?.version;
    const from = h(
      "select",
      { id: "diff-from" },
      versions.map((v, i) => h("option", { value: v, selected: i === 1 }, v)),
    );
    const to = h(
      "select",
      { id: "diff-to" },
      versions.map((v, i) => h("option", { value: v, selected: i === 0 }, v)),
    );
    const showDiff = async () => {
      const [a, b] = await Promise.all([load(from.value), load(to.value)]);
      drawDiff(diffBox, from.value, to.value, a, b);
    };
    from.onchange = showDiff;
    to.onchange = showDiff;
    replace(
      list,
      h(
        "table",
        { class: "versions" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Version"), h("th", { scope: "col" }, ""))),
        h(
          "tbody",
          {},
          versions.map((v) =>
            h(
              "tr",
              { dataset: { version: v } },
              h(
                "th",
                { scope: "row" },
                h("code", {}, v),
                v === current ? h("span", { class: "status info" }, "Current") : null,
              ),
              h(
                "td",
                { class: "row-actions" },
                v === current
                  ? null
                  : h(
                      "button",
                      {
                        type: "button",
                        class: "small",
                        onclick: () => rollback(v),
                      },
                      "Roll back to this",
                    ),
              ),
            ),
          ),
        ),
      ),
      versions.length > 1
        ? h(
            "div",
            { class: "toolbar" },
            h("label", { for: "diff-from" }, "Compare "),
            from,
            h("label", { for: "diff-to" }, " with "),
            to,
          )
        : h("p", { class: "muted" }, "Only one version so far: nothing to compare."),
    );
    if (versions.length > 1) showDiff();
  }

  async function rollback(v) {
    const result = await confirmDialog({
      title: "Roll back",
      body: h(
        "p",
        {},
        "Deploy the definition of ",
        h("code", {}, id),
        " as it was in version ",
        h("code", {}, v),
        "? This makes a new version.",
      ),
      confirmLabel: "Roll back",
      action: async () => {
        const r = await marathon.rollback(id, v);
        await refresh();
        return r;
      },
    });
    if (!result || result === true) return;
    const dep = deploymentOf(result);
    toast(
      h(
        "span",
        {},
        `Rollback started deployment ${short(dep)}. `,
        h("a", { href: `#/deployments?id=${encodeURIComponent(dep)}` }, "Follow it"),
      ),
    );
    draw();
  }

  draw();
  return () => {
    alive = false;
  };
}

function drawDiff(box, fromV, toV, a, b) {
  // Versions differ in their `version` field by construction; leave it out of the diff.
  const strip = (d) => {
    const { version, versionInfo, ...rest } = d;
    return rest;
  };
  const lines = diffLines(stableJson(strip(a)), stableJson(strip(b)));
  const changed = lines.filter(([op]) => op !== " ").length;
  replace(
    box,
    h("h3", {}, `Changes from ${fromV} to ${toV}`),
    changed === 0
      ? h(
          "p",
          { class: "muted" },
          "The definitions are the same (a scale or a restart changes only the version).",
        )
      : h(
          "pre",
          { class: "code diff", tabindex: "0", "aria-label": "Differences" },
          lines.map(([op, text]) =>
            h(
              "span",
              { class: op === "+" ? "add" : op === "-" ? "del" : "same" },
              `${op === " " ? " " : op} ${text}\n`,
            ),
          ),
        ),
  );
}
