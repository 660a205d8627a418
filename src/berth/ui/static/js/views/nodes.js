// Nodes: the master's agents with allocated against total resources, their attributes and
// the instances on them; agents that are unreachable or inactive are marked in words.

import { mesos } from "../api.js";
import { bar, h, mib, num, replace, serviceHref } from "../dom.js";
import { master, store, watchMaster } from "../live.js";
import { taskLabel, taskTone } from "../status.js";

/**
 * Each agent with its standing: "active", "inactive" (disconnected or deactivated) or
 * "unreachable". The master drops unreachable agents from `slaves` and gives only their
 * count (`unreachable_slaves`); the ones still holding tasks are known by those tasks'
 * `slave_id` (frameworks' `unreachable_tasks`), and the rest are counted in `hiddenUnreachable`.
 */
export function agentsOf(state) {
  const agents = (state.slaves || []).map((s) => ({
    ...s,
    standing: s.active === false || s.deactivated ? "inactive" : "active",
  }));
  const known = new Set(agents.map((a) => a.id));
  for (const f of state.frameworks || []) {
    for (const t of f.unreachable_tasks || []) {
      if (known.has(t.slave_id)) continue;
      known.add(t.slave_id);
      agents.push({
        id: t.slave_id,
        hostname: "",
        standing: "unreachable",
        resources: {},
        used_resources: {},
      });
    }
  }
  const listed = Array.isArray(state.unreachable_slaves)
    ? state.unreachable_slaves.length
    : Number(state.unreachable_slaves) || 0;
  const shown = agents.filter((a) => a.standing === "unreachable").length;
  agents.hiddenUnreachable = Math.max(0, listed - shown);
  const order = { unreachable: 0, inactive: 1, active: 2 };
  agents.sort(
    (a, b) => order[a.standing] - order[b.standing] || String(a.hostname).localeCompare(String(b.hostname)),
  );
  return agents;
}

/** Tasks per agent id, from every framework's tasks. */
export function tasksByAgent(state) {
  const out = new Map();
  for (const f of state.frameworks || []) {
    for (const t of [...(f.tasks || []), ...(f.unreachable_tasks || [])]) {
      if (!out.has(t.slave_id)) out.set(t.slave_id, []);
      out.get(t.slave_id).push({ ...t, framework: f.name });
    }
  }
  return out;
}

const STANDING = {
  active: ["ok", "Active"],
  inactive: ["warn", "Inactive"],
  unreachable: ["bad", "Unreachable"],
};

export function render(node, route) {
  const body = h("div", { class: "nodes" });
  node.append(h("div", { class: "page-head" }, h("h1", {}, "Nodes")), body);
  if (!mesos.available()) {
    body.append(
      h(
        "p",
        { class: "notice warn" },
        "Nodes come from the Mesos master, which this page cannot reach: open the UI through the Berth gateway (",
        h("code", {}, "berth gateway"),
        ", port 8000 by default) to see them.",
      ),
    );
    return null;
  }
  let highlight = route.query.get("agent");
  let focusDone = false;
  function draw() {
    if (!master.state) {
      replace(
        body,
        h(
          "p",
          { class: master.error ? "error" : "muted" },
          master.error ? `Cannot reach the master: ${master.error.message}` : "Loading…",
        ),
      );
      return;
    }
    const agents = agentsOf(master.state);
    const tasks = tasksByAgent(master.state);
    const counts = { active: 0, inactive: 0, unreachable: agents.hiddenUnreachable };
    for (const a of agents) counts[a.standing]++;
    replace(
      body,
      master.error
        ? h(
            "p",
            { class: "notice warn", role: "status" },
            `The master did not answer the last refresh: ${master.error.message}`,
          )
        : null,
      h(
        "p",
        { class: "muted" },
        `${agents.length} agent${agents.length === 1 ? "" : "s"}: ${counts.active} active, ${counts.inactive} inactive, ${counts.unreachable} unreachable.`,
      ),
      agents.hiddenUnreachable
        ? h(
            "p",
            { class: "notice bad", role: "status" },
            h("strong", {}, "Unreachable: "),
            `${agents.hiddenUnreachable} agent${agents.hiddenUnreachable === 1 ? " has" : "s have"} stopped answering the master; it no longer lists ${agents.hiddenUnreachable === 1 ? "it" : "them"} (no instances were running there).`,
          )
        : null,
      agents.length || agents.hiddenUnreachable
        ? null
        : h(
            "p",
            { class: "empty" },
            "No agents have registered. Start one with berth agent --master <host:5050>.",
          ),
      h(
        "div",
        { class: "cards" },
        agents.map((a) => agentCard(a, tasks.get(a.id) || [], a.id === highlight)),
      ),
    );
    if (highlight && !focusDone) {
      const el = body.querySelector(".highlight");
      if (el) {
        el.scrollIntoView({ block: "center" });
        focusDone = true;
      }
    }
  }
  const stop = watchMaster(draw);
  draw();
  return {
    update(r) {
      highlight = r.query.get("agent");
      focusDone = false;
      draw();
    },
    cleanup: stop,
  };
}

function agentCard(a, tasks, highlighted) {
  const [tone, label] = STANDING[a.standing];
  const total = a.resources || {};
  const used = a.used_resources || {};
  const attrs = Object.entries(a.attributes || {});
  return h(
    "article",
    {
      class: `card agent ${a.standing}${highlighted ? " highlight" : ""}`,
      dataset: { agent: a.id },
      "aria-labelledby": `agent-${a.id}`,
    },
    h(
      "div",
      { class: "card-head" },
      h(
        "h2",
        { id: `agent-${a.id}` },
        a.port ? `${a.hostname}:${a.port}` : a.hostname || "Agent (address unknown)",
      ),
      h("span", { class: `status ${tone}` }, label),
    ),
    h("p", { class: "small muted" }, h("code", {}, a.id)),
    a.standing === "unreachable" && !total.cpus
      ? h(
          "p",
          { class: "small" },
          "The master lost contact with this agent. Its instances stay Unreachable until it comes back or marathon replaces them.",
        )
      : h(
          "div",
          { class: "bars" },
          bar("CPU", used.cpus || 0, total.cpus || 0, (v) => num(v)),
          bar("Memory", used.mem || 0, total.mem || 0, mib),
          bar("Disk", used.disk || 0, total.disk || 0, mib),
        ),
    attrs.length
      ? h(
          "p",
          { class: "attrs" },
          attrs.map(([k, v]) =>
            h("span", { class: "tag" }, `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`),
          ),
        )
      : null,
    h(
      "details",
      { open: highlighted || tasks.length <= 5 },
      h("summary", {}, `${tasks.length} instance${tasks.length === 1 ? "" : "s"}`),
      tasks.length
        ? h(
            "ul",
            { class: "agent-tasks" },
            tasks.map((t) => {
              const appId = appOfTask(t);
              return h(
                "li",
                {},
                h("span", { class: `status ${taskTone(t.state)}` }, taskLabel(t.state)),
                " ",
                appId ? h("a", { href: serviceHref(appId) }, appId) : h("span", {}, t.name),
                h(
                  "span",
                  { class: "muted small" },
                  ` ${num((t.resources || {}).cpus)} CPU, ${mib((t.resources || {}).mem)}`,
                ),
              );
            }),
          )
        : h("p", { class: "muted small" }, "Nothing runs here."),
    ),
  );
}

let appKeys = { version: -1, map: new Map() };

/** The marathon app of a Mesos task, when marathon knows the task. */
function appOfTask(t) {
  if (appKeys.version !== store.version) {
    // Task ids start with the app id, slashes as underscores: "web_a.instance-…".
    appKeys = {
      version: store.version,
      map: new Map(store.apps.map((a) => [a.id.slice(1).replaceAll("/", "_"), a.id])),
    };
  }
  return appKeys.map.get(t.id.split(".instance-")[0]) || null;
}
