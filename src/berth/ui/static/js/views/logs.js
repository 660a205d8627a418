// An instance's stdout/stderr, read from its agent's sandbox through the /files API:
// tail the last part, then follow by polling from the offset reached (what `tail -f` does).

import { agents } from "../api.js";
import { h } from "../dom.js";
import { store } from "../live.js";
import { instanceName } from "./service.js";

const TAIL_BYTES = 64 * 1024;
const CHUNK_BYTES = 256 * 1024;
const KEEP_CHARS = 512 * 1024; // drop the oldest text beyond this, to stay fast
const POLL_MS = 1000;
const encoder = new TextEncoder();

/** Find the sandbox directory of `taskId` in an agent's /state. */
export function sandboxOf(agentState, taskId) {
  for (const f of [...(agentState.frameworks || []), ...(agentState.completed_frameworks || [])]) {
    for (const e of [...(f.executors || []), ...(f.completed_executors || [])]) {
      const tasks = [...(e.tasks || []), ...(e.completed_tasks || []), ...(e.queued_tasks || [])];
      if (e.id === taskId || tasks.some((t) => t.id === taskId)) return e.directory;
    }
  }
  return null;
}

export function mountLogs(node, appId, route) {
  const app = store.byId.get(appId);
  if (!agents.available()) {
    node.append(
      h(
        "p",
        { class: "notice warn" },
        "Logs are read from the agents, which this page cannot reach: open the UI through the Berth gateway (",
        h("code", {}, "berth gateway"),
        ", port 8000 by default) to see them.",
      ),
    );
    return null;
  }
  const tasks = (app && app.tasks) || [];
  if (!tasks.length) {
    node.append(h("p", { class: "empty" }, "No instances, so no logs to show."));
    return null;
  }
  const taskId = route.query.get("task") || (tasks.find((t) => t.state === "TASK_RUNNING") || tasks[0]).id;
  let file = route.query.get("file") === "stderr" ? "stderr" : "stdout";
  let follow = true;
  let offset = 0;
  let timer = null;
  let alive = true;
  let dir = null;
  const task = tasks.find((t) => t.id === taskId);

  const taskSelect = h(
    "select",
    {
      id: "log-task",
      onchange: () => {
        const q = new URLSearchParams({ tab: "logs", task: taskSelect.value, file });
        location.hash = `${location.hash.split("?")[0]}?${q}`;
      },
    },
    tasks.map((t) =>
      h("option", { value: t.id, selected: t.id === taskId }, `${instanceName(t.id)} on ${t.host}`),
    ),
  );
  const fileButtons = ["stdout", "stderr"].map((f) =>
    h(
      "button",
      { type: "button", class: "small", "aria-pressed": String(f === file), onclick: () => switchFile(f) },
      f,
    ),
  );
  const followBox = h("input", {
    type: "checkbox",
    id: "log-follow",
    checked: true,
    onchange: () => {
      follow = followBox.checked;
      if (follow) poll();
      else clearTimeout(timer);
    },
  });
  const state = h("span", { class: "muted small", role: "status" });
  const out = h("pre", {
    class: "code logs",
    id: "log-output",
    tabindex: "0",
    "aria-label": "Log output",
    "aria-live": "off",
  });

  node.append(
    h(
      "div",
      { class: "toolbar" },
      h("label", { for: "log-task" }, "Instance"),
      taskSelect,
      h("span", { role: "group", "aria-label": "File", class: "seg" }, fileButtons),
      h("label", { class: "check" }, followBox, " Follow"),
      state,
    ),
    out,
  );

  function switchFile(f) {
    file = f;
    fileButtons.forEach((b) => b.setAttribute("aria-pressed", String(b.textContent === f)));
    out.textContent = "";
    offset = 0;
    start();
  }

  async function start() {
    clearTimeout(timer);
    if (!task) {
      state.textContent = "That instance is gone.";
      return;
    }
    try {
      if (!dir) {
        state.textContent = "Finding the sandbox…";
        dir = sandboxOf(await agents.state(task.slaveId), task.id);
        if (!dir) throw new Error("the agent does not know this instance's sandbox (yet)");
      }
      const size = (await agents.read(task.slaveId, `${dir}/${file}`, -1)).offset;
      offset = Math.max(0, size - TAIL_BYTES);
      state.textContent = offset > 0 ? `Showing the last ${Math.round(TAIL_BYTES / 1024)} KiB` : "";
      await poll();
    } catch (e) {
      if (!alive) return;
      state.textContent = `Cannot read ${file}: ${e.message}`;
      timer = setTimeout(start, 3000);
    }
  }

  async function poll() {
    clearTimeout(timer);
    if (!alive) return;
    try {
      for (;;) {
        const r = await agents.read(task.slaveId, `${dir}/${file}`, offset, CHUNK_BYTES);
        if (!alive) return;
        if (!r.data) break;
        append(r.data);
        // Offsets count bytes; the text may hold multi-byte characters.
        const bytes = encoder.encode(r.data).length;
        offset = r.offset + bytes;
        if (bytes < CHUNK_BYTES) break;
      }
    } catch (e) {
      state.textContent = `Cannot read ${file}: ${e.message}`;
    }
    if (alive && follow) timer = setTimeout(poll, POLL_MS);
  }

  function append(text) {
    const atBottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
    out.append(text);
    if (out.textContent.length > KEEP_CHARS) out.textContent = out.textContent.slice(-KEEP_CHARS);
    if (atBottom || follow) out.scrollTop = out.scrollHeight;
  }

  start();
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}
