// Services: every app and group, with status, instances, resources and version.
// Also the entry to an app's detail page (#/services/<app id>).
//
// Fast at thousands of apps: the filter is a plain loop over the sorted list held by the
// store, and only the rows in view (plus a margin) exist in the DOM (a virtual list over a
// real <table>, with spacer rows above and below).

import { h, mib, num, replace, serviceHref } from "../dom.js";
import { store, subscribe } from "../live.js";
import { STATUSES, worstStatus } from "../status.js";
import * as detail from "./service.js";

const ROW_HEIGHT = 44; // px; must match `.services tbody tr` in style.css
const OVERSCAN = 10;

export function render(node, route) {
  let inner = null;
  let mode = null;
  const decide = () => {
    if (!store.loaded) {
      if (!mode) replace(node, h("h1", {}, "Services"), loadingOrError());
      return;
    }
    const id = "/" + route.path;
    const want = route.path && (mode === "detail" || store.byId.has(id)) ? "detail" : "list";
    if (want === mode) return;
    if (inner) inner.cleanup();
    mode = want;
    node.replaceChildren();
    inner = want === "detail" ? detail.mount(node, id, route) : mountList(node, route);
  };
  const unsubscribe = subscribe(decide);
  decide();
  return {
    // Query-only changes (tabs, task selection, filters) go to the mounted page.
    update(r) {
      route = r;
      if (inner && inner.update) inner.update(r);
    },
    cleanup() {
      unsubscribe();
      if (inner) inner.cleanup();
    },
  };
}

function loadingOrError() {
  return store.error
    ? h("p", { class: "error", role: "alert" }, `Cannot load services: ${store.error.message}`)
    : h("p", { class: "muted" }, "Loading…");
}

/** Immediate children of `prefix` ("/" or "/a/"): {groups: Map(id → [apps]), apps: [app]}. */
export function childrenOf(apps, prefix) {
  const groups = new Map();
  const direct = [];
  for (const app of apps) {
    if (!app.id.startsWith(prefix)) continue;
    const rest = app.id.slice(prefix.length);
    const slash = rest.indexOf("/");
    if (slash < 0) direct.push(app);
    else {
      const gid = prefix + rest.slice(0, slash);
      if (!groups.has(gid)) groups.set(gid, []);
      groups.get(gid).push(app);
    }
  }
  return { groups, apps: direct };
}

function mountList(node, route) {
  const group = route.path ? "/" + route.path.replace(/\/+$/, "") : "/";
  const prefix = group === "/" ? "/" : group + "/";
  let text = route.query.get("q") || "";
  let status = route.query.get("status") || "";
  let rows = []; // current entries: {kind: "app"|"group", id, ...}
  let renderedVersion = -1;
  let firstRender = true;

  const filter = h("input", {
    type: "search",
    id: "service-filter",
    placeholder: "Filter by name, command or image",
    value: text,
    autocomplete: "off",
    oninput: () => {
      performance.mark("services-filter-input");
      text = filter.value;
      recompute();
      keepInUrl();
    },
  });
  const statusSelect = h(
    "select",
    {
      id: "service-status",
      onchange: () => {
        status = statusSelect.value;
        recompute();
        keepInUrl();
      },
    },
    h("option", { value: "" }, "All statuses"),
    Object.entries(STATUSES).map(([key, s]) =>
      h("option", { value: key, selected: key === status }, s.label),
    ),
  );
  const count = h("p", { class: "muted count", "aria-live": "polite" });
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "services" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Name"),
        h("th", { scope: "col" }, "Status"),
        h("th", { scope: "col", class: "num" }, "Instances"),
        h("th", { scope: "col", class: "num" }, "CPU"),
        h("th", { scope: "col", class: "num" }, "Memory"),
        h("th", { scope: "col" }, "Version"),
      ),
    ),
    tbody,
  );
  const empty = h("p", { class: "empty", hidden: true });

  node.append(
    h(
      "div",
      { class: "page-head" },
      h("div", {}, breadcrumbs(group), h("h1", {}, group === "/" ? "Services" : group)),
      h(
        "a",
        {
          class: "button primary",
          href: `#/create${group === "/" ? "" : "?group=" + encodeURIComponent(group)}`,
        },
        "Create service",
      ),
    ),
    h(
      "div",
      { class: "toolbar", role: "search" },
      h("label", { for: "service-filter", class: "visually-hidden" }, "Filter services"),
      filter,
      h("label", { for: "service-status", class: "visually-hidden" }, "Status"),
      statusSelect,
      count,
    ),
    h("div", { class: "table-wrap" }, table),
    empty,
  );

  function keepInUrl() {
    const q = new URLSearchParams();
    if (text) q.set("q", text);
    if (status) q.set("status", status);
    const base = location.hash.split("?")[0];
    history.replaceState(null, "", q.toString() ? `${base}?${q}` : base);
  }

  /** Rebuild the entry list from the store and the filters; cheap at 1,000s of apps. */
  function recompute() {
    const needle = text.trim().toLowerCase();
    let total = 0;
    if (!needle && !status) {
      const { groups, apps } = childrenOf(store.apps, prefix);
      rows = [];
      for (const [gid, members] of groups) {
        rows.push({ kind: "group", id: gid, apps: members });
      }
      for (const app of apps) rows.push({ kind: "app", id: app.id, app });
      total = rows.length;
    } else {
      rows = [];
      for (const app of store.apps) {
        if (!app.id.startsWith(prefix)) continue;
        total++;
        if (status && store.status.get(app.id) !== status) continue;
        if (needle && !matches(app, needle)) continue;
        rows.push({ kind: "app", id: app.id, app });
      }
    }
    count.textContent =
      needle || status
        ? `${rows.length} of ${total} services match`
        : `${store.apps.filter((a) => a.id.startsWith(prefix)).length} services`;
    empty.hidden = rows.length > 0;
    empty.textContent =
      needle || status ? "No services match the filter." : "No services here yet. Create one to get started.";
    table.hidden = rows.length === 0;
    renderedVersion = store.version;
    paint(true);
  }

  let lastWindow = "";
  /** Draw the rows in view. `force` redraws even when the window did not move. */
  function paint(force = false) {
    const top = tbody.getBoundingClientRect().top + window.scrollY;
    const first = Math.max(0, Math.floor((window.scrollY - top) / ROW_HEIGHT) - OVERSCAN);
    const visible = Math.ceil(window.innerHeight / ROW_HEIGHT) + 2 * OVERSCAN;
    const last = Math.min(rows.length, first + visible);
    const key = `${first}:${last}`;
    if (!force && key === lastWindow) return;
    lastWindow = key;
    const out = [];
    if (first > 0) out.push(spacer(first * ROW_HEIGHT));
    for (let i = first; i < last; i++)
      out.push(rows[i].kind === "group" ? groupRow(rows[i]) : appRow(rows[i].app));
    if (last < rows.length) out.push(spacer((rows.length - last) * ROW_HEIGHT));
    // Keep keyboard focus on the same row's link across redraws.
    const focused = tbody.contains(document.activeElement)
      ? document.activeElement.closest("tr")?.dataset.id
      : null;
    tbody.replaceChildren(...out);
    if (focused)
      tbody.querySelector(`tr[data-id="${CSS.escape(focused)}"] a`)?.focus({ preventScroll: true });
    requestAnimationFrame(() => {
      if (firstRender && rows.length) {
        firstRender = false;
        if (!performance.getEntriesByName("services-rendered").length) performance.mark("services-rendered");
      }
      if (performance.getEntriesByName("services-filter-input").length) {
        performance.mark("services-filtered");
        performance.measure("services-filter", "services-filter-input", "services-filtered");
        performance.clearMarks("services-filter-input");
      }
    });
  }

  let scheduled = false;
  const onScroll = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      paint();
    });
  };
  window.addEventListener("scroll", onScroll, { passive: true });
  window.addEventListener("resize", onScroll);
  const unsubscribe = subscribe(() => {
    if (store.version !== renderedVersion) recompute();
  });
  recompute();

  return {
    /** The hash's query changed (a link to "?status=delayed", say): follow it. */
    update(r) {
      text = r.query.get("q") || "";
      status = r.query.get("status") || "";
      filter.value = text;
      statusSelect.value = status;
      recompute();
    },
    cleanup() {
      unsubscribe();
      window.removeEventListener("scroll", onScroll);
      window.removeEventListener("resize", onScroll);
    },
  };
}

function matches(app, needle) {
  if (app.id.toLowerCase().includes(needle)) return true;
  if (app.cmd && app.cmd.toLowerCase().includes(needle)) return true;
  const image = app.container && app.container.docker && app.container.docker.image;
  return Boolean(image && image.toLowerCase().includes(needle));
}

function spacer(height) {
  return h(
    "tr",
    { class: "spacer", "aria-hidden": "true", style: `height:${height}px` },
    h("td", { colspan: "6" }),
  );
}

export function statusBadge(key) {
  const s = STATUSES[key] || { label: key, tone: "muted" };
  return h("span", { class: `status ${s.tone}`, dataset: { status: key } }, s.label);
}

function instancesText(app) {
  const healthy = (app.healthChecks || []).length ? `, ${app.tasksHealthy} healthy` : "";
  return `${app.tasksRunning} of ${app.instances}${healthy}`;
}

function appRow(app) {
  const name = app.id.split("/").pop();
  return h(
    "tr",
    { dataset: { id: app.id } },
    h("th", { scope: "row" }, h("a", { href: serviceHref(app.id), title: app.id }, name)),
    h("td", {}, statusBadge(store.status.get(app.id))),
    h("td", { class: "num" }, instancesText(app)),
    h("td", { class: "num" }, num(app.cpus)),
    h("td", { class: "num" }, mib(app.mem)),
    h(
      "td",
      {},
      h(
        "time",
        { datetime: app.version, title: app.version },
        (app.version || "").replace("T", " ").slice(0, 19),
      ),
    ),
  );
}

function groupRow(entry) {
  const running = entry.apps.reduce((n, a) => n + (a.tasksRunning || 0), 0);
  const target = entry.apps.reduce((n, a) => n + (a.instances || 0), 0);
  const cpus = entry.apps.reduce((n, a) => n + a.cpus * a.instances, 0);
  const mem = entry.apps.reduce((n, a) => n + a.mem * a.instances, 0);
  return h(
    "tr",
    { class: "group", dataset: { id: entry.id } },
    h(
      "th",
      { scope: "row" },
      h(
        "a",
        { href: serviceHref(entry.id) },
        h("span", { class: "folder", "aria-hidden": "true" }, "▸ "),
        entry.id.split("/").pop(),
      ),
      h("span", { class: "muted small" }, ` group · ${entry.apps.length} services`),
    ),
    h("td", {}, statusBadge(worstStatus(entry.apps.map((a) => store.status.get(a.id))))),
    h("td", { class: "num" }, `${running} of ${target}`),
    h("td", { class: "num", title: "total of the group" }, num(cpus)),
    h("td", { class: "num", title: "total of the group" }, mib(mem)),
    h("td", {}, ""),
  );
}

export function breadcrumbs(id) {
  const parts = id.split("/").filter(Boolean);
  const items = [h("li", {}, h("a", { href: "#/services" }, "Services"))];
  for (let i = 0; i < parts.length - 1; i++) {
    const gid = "/" + parts.slice(0, i + 1).join("/");
    items.push(h("li", {}, h("a", { href: serviceHref(gid) }, parts[i])));
  }
  return h("nav", { "aria-label": "Breadcrumb", class: "crumbs" }, h("ol", {}, items));
}
