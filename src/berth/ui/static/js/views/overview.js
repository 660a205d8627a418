// Overview: how the cluster is doing at a glance — totals, allocation, instances by state,
// what just happened (the event stream) and what is failing.

import { ago, bar, h, mib, num, replace, serviceHref, short } from "../dom.js";
import { master, store, subscribe, watchMaster } from "../live.js";
import { declineReasons, offersDeclined, STATUSES, taskLabel, taskTone } from "../status.js";
import { agentsOf } from "./nodes.js";
import { statusBadge } from "./services.js";

export function render(node) {
  const body = h("div", { class: "overview" });
  node.append(h("div", { class: "page-head" }, h("h1", {}, "Overview")), body);
  let lastKey = "";

  function draw() {
    if (!store.loaded) {
      replace(
        body,
        h(
          "p",
          { class: store.error ? "error" : "muted" },
          store.error ? `Cannot reach marathon: ${store.error.message}` : "Loading…",
        ),
      );
      return;
    }
    // The event list and counts change often; skip redraws that would change nothing.
    const agents = master.state
      ? [master.state.slaves?.map((s) => [s.id, s.active, s.used_resources]), master.state.unreachable_slaves]
      : null;
    const key = JSON.stringify([store.version, store.events.length, store.events[0]?.timestamp, agents]);
    if (key === lastKey) return;
    lastKey = key;
    replace(
      body,
      h("div", { class: "cards overview-cards" }, servicesCard(), instancesCard(), clusterCard()),
      h("div", { class: "cards two" }, failuresCard(), eventsCard()),
    );
  }

  const unsubscribe = subscribe(draw);
  const stopMaster = watchMaster(draw);
  draw();
  return () => {
    unsubscribe();
    stopMaster();
  };
}

function servicesCard() {
  const counts = {};
  for (const s of store.status.values()) counts[s] = (counts[s] || 0) + 1;
  return h(
    "section",
    { class: "card", "aria-labelledby": "ov-services" },
    h("h2", { id: "ov-services" }, "Services"),
    h(
      "p",
      { class: "big" },
      h("a", { href: "#/services" }, String(store.apps.length)),
      h("span", { class: "muted" }, " services"),
    ),
    h(
      "ul",
      { class: "plain" },
      Object.keys(STATUSES)
        .filter((k) => counts[k])
        .map((k) => h("li", {}, h("a", { href: `#/services?status=${k}` }, statusBadge(k)), ` ${counts[k]}`)),
    ),
    h(
      "p",
      {},
      h(
        "a",
        { href: "#/deployments" },
        `${store.deployments.length} deployment${store.deployments.length === 1 ? "" : "s"} running`,
      ),
    ),
  );
}

function instancesCard() {
  const byState = {};
  let target = 0;
  for (const app of store.apps) {
    target += app.instances;
    for (const t of app.tasks || []) byState[t.state] = (byState[t.state] || 0) + 1;
  }
  const running = byState.TASK_RUNNING || 0;
  let waiting = 0;
  for (const q of store.queue.values()) waiting += q.count || 0;
  return h(
    "section",
    { class: "card", "aria-labelledby": "ov-instances" },
    h("h2", { id: "ov-instances" }, "Instances"),
    h("p", { class: "big" }, String(running), h("span", { class: "muted" }, ` running of ${target} wanted`)),
    h(
      "ul",
      { class: "plain" },
      Object.entries(byState)
        .sort()
        .map(([s, n]) => h("li", {}, h("span", { class: `status ${taskTone(s)}` }, taskLabel(s)), ` ${n}`)),
      waiting ? h("li", {}, h("span", { class: "status warn" }, "Waiting to launch"), ` ${waiting}`) : null,
    ),
  );
}

function clusterCard() {
  const head = h("h2", { id: "ov-cluster" }, "Cluster allocation");
  if (!master.state) {
    // Without the master, what marathon's apps ask for is still worth showing.
    let cpus = 0;
    let mem = 0;
    for (const app of store.apps) {
      cpus += app.cpus * app.tasksRunning;
      mem += app.mem * app.tasksRunning;
    }
    return h(
      "section",
      { class: "card", "aria-labelledby": "ov-cluster" },
      head,
      h("p", {}, `Running instances use ${num(cpus)} CPU and ${mib(mem)}.`),
      h(
        "p",
        { class: "muted small" },
        master.error
          ? `The master did not answer: ${master.error.message}`
          : "Agent totals need the gateway (the master's API).",
      ),
    );
  }
  const agents = agentsOf(master.state);
  const total = { cpus: 0, mem: 0, disk: 0 };
  const used = { cpus: 0, mem: 0, disk: 0 };
  for (const a of agents) {
    if (a.standing !== "active") continue;
    for (const k of Object.keys(total)) {
      total[k] += (a.resources || {})[k] || 0;
      used[k] += (a.used_resources || {})[k] || 0;
    }
  }
  const active = agents.filter((a) => a.standing === "active").length;
  const down = agents.filter((a) => a.standing !== "active").length + agents.hiddenUnreachable;
  return h(
    "section",
    { class: "card", "aria-labelledby": "ov-cluster" },
    head,
    h(
      "p",
      {},
      h("a", { href: "#/nodes" }, `${active} active agent${active === 1 ? "" : "s"}`),
      down ? [" ", h("span", { class: "status bad" }, `${down} unreachable or inactive`)] : null,
    ),
    h(
      "div",
      { class: "bars" },
      bar("CPU", used.cpus, total.cpus),
      bar("Memory", used.mem, total.mem, mib),
      bar("Disk", used.disk, total.disk, mib),
    ),
  );
}

function failuresCard() {
  const items = [];
  for (const app of store.apps) {
    const f = app.lastTaskFailure;
    if (f)
      items.push({
        when: f.timestamp,
        node: h(
          "li",
          {},
          h("a", { href: serviceHref(app.id) }, app.id),
          ` ${taskLabel(f.state)} on ${f.host}`,
          f.message ? ` — ${f.message}` : "",
          " · ",
          ago(f.timestamp),
        ),
      });
  }
  for (const q of store.queue.values()) {
    const declined = offersDeclined(q);
    const delayed = q.delay && q.delay.overdue === false && q.delay.timeLeftSeconds > 0;
    if (!declined && !delayed) continue;
    const why = delayed
      ? `backing off, next launch in ${Math.ceil(q.delay.timeLeftSeconds)} s`
      : `offers turned down: ${declineReasons(q).join("; ")}`;
    items.push({
      when: q.since || "",
      node: h(
        "li",
        {},
        h("a", { href: serviceHref(q.app.id) }, q.app.id),
        ` ${q.count} waiting to launch — ${why}`,
      ),
    });
  }
  items.sort((a, b) => String(b.when).localeCompare(String(a.when)));
  return h(
    "section",
    { class: "card", "aria-labelledby": "ov-failures" },
    h("h2", { id: "ov-failures" }, "Failures and blockers"),
    items.length
      ? h(
          "ul",
          { class: "list" },
          items.slice(0, 15).map((i) => i.node),
        )
      : h("p", { class: "muted" }, "Nothing is failing."),
  );
}

function eventsCard() {
  return h(
    "section",
    { class: "card", "aria-labelledby": "ov-events" },
    h("h2", { id: "ov-events" }, "Recent events"),
    store.events.length
      ? h(
          "ol",
          { class: "list events" },
          store.events
            // Each task change arrives twice (status update, instance change): show one.
            .filter((e) => e.eventType !== "instance_changed_event")
            .slice(0, 25)
            .map((e) => h("li", {}, describe(e), " · ", ago(e.timestamp))),
        )
      : h(
          "p",
          { class: "muted" },
          store.connected ? "No events since this page opened." : "Not connected to the event stream.",
        ),
  );
}

/** One line saying what an event means. */
export function describe(e) {
  const app = e.appId || e.runSpecId;
  const link = app ? h("a", { href: serviceHref(app) }, app) : null;
  switch (e.eventType) {
    case "status_update_event":
      return h(
        "span",
        {},
        link,
        " instance ",
        h("span", { class: `status ${taskTone(e.taskStatus)}` }, taskLabel(e.taskStatus)),
        e.host ? ` on ${e.host}` : "",
      );
    case "instance_changed_event":
      return h("span", {}, link, ` instance ${e.condition}`);
    case "instance_health_changed_event":
    case "health_status_changed_event": {
      const healthy = e.healthy ?? e.alive;
      return h(
        "span",
        {},
        link,
        " instance ",
        h(
          "span",
          { class: `status ${healthy ? "ok" : "bad"}` },
          healthy ? "Healthy" : healthy === false ? "Unhealthy" : "Health unknown",
        ),
      );
    }
    case "deployment_info":
      return h(
        "span",
        {},
        `Deployment ${short(e.plan?.id)} step: `,
        ((e.currentStep || {}).actions || []).map((a) => `${a.action} ${a.app || a.pod || ""}`).join(", "),
      );
    case "deployment_step_success":
      return h("span", {}, `Deployment ${short(e.plan?.id)} finished a step`);
    case "deployment_step_failure":
      return h(
        "span",
        {},
        h("span", { class: "status bad" }, "Step failed"),
        ` in deployment ${short(e.plan?.id)}`,
      );
    case "group_change_success":
      return h("span", {}, `Group ${e.groupId || "/"} changed`);
    case "group_change_failed":
      return h(
        "span",
        {},
        h("span", { class: "status bad" }, "Change refused"),
        ` for group ${e.groupId || "/"}${e.reason ? ` — ${e.reason}` : ""}`,
      );
    case "failed_health_check_event":
      return h("span", {}, link, " ", h("span", { class: "status warn" }, "Health check failed"));
    case "deployment_success":
      return h("span", {}, h("span", { class: "status ok" }, "Finished"), ` deployment ${short(e.id)}`);
    case "deployment_failed":
      return h(
        "span",
        {},
        h("span", { class: "status bad" }, "Failed"),
        ` deployment ${short(e.id)}${e.reason ? ` — ${e.reason}` : ""}`,
      );
    case "unhealthy_instance_kill_event":
      return h(
        "span",
        {},
        link,
        " ",
        h("span", { class: "status bad" }, "Killed unhealthy"),
        ` instance on ${e.host}`,
      );
    case "app_terminated_event":
      return h("span", {}, app, " destroyed");
    case "api_post_event":
      return h(
        "span",
        {},
        "Changed ",
        e.appDefinition ? h("a", { href: serviceHref(e.appDefinition.id) }, e.appDefinition.id) : e.uri,
      );
    default:
      return h("span", {}, e.eventType.replaceAll("_", " "), link ? " " : "", link);
  }
}
