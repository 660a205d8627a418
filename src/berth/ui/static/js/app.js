// Entry point: find the APIs, start the live store, route by the URL's hash.
//
//   #/overview  #/services[/<group>]  #/services/<app id>[?tab=…]  #/create  #/edit/<app id>
//   #/deployments  #/nodes

import { loadConfig } from "./api.js";
import { h, replace } from "./dom.js";
import { connect, refresh, store, subscribe } from "./live.js";
import * as create from "./views/create.js";
import * as deployments from "./views/deployments.js";
import * as nodes from "./views/nodes.js";
import * as overview from "./views/overview.js";
import * as services from "./views/services.js";

const main = document.getElementById("main");
let current = null; // {view, path, page: {cleanup?, update?}}

/** Split "#/services/web/a?tab=logs" into {section: "services", path: "web/a", query}. */
export function parseHash(hash) {
  const raw = hash.replace(/^#\/?/, "");
  const [pathPart, queryPart = ""] = raw.split("?");
  const [section = "", ...rest] = pathPart.split("/");
  return {
    section: section || "overview",
    path: rest.map(decodeURIComponent).join("/"),
    query: new URLSearchParams(queryPart),
  };
}

const VIEWS = {
  overview,
  services,
  deployments,
  nodes,
  create,
  edit: create,
};

function route() {
  const r = parseHash(location.hash);
  const view = VIEWS[r.section];
  // A query change on the same page (a tab, a filter) goes to the page, which keeps its state.
  if (current && current.view === view && current.path === r.path && current.page.update) {
    current.page.update(r);
    return;
  }
  if (current && current.page.cleanup) current.page.cleanup();
  for (const a of document.querySelectorAll("[data-nav]")) {
    const active =
      a.dataset.nav === (r.section === "create" || r.section === "edit" ? "services" : r.section);
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const node = h("div", { class: "view" });
  replace(main, node);
  if (!view) {
    node.append(h("h1", {}, "Not found"), h("p", {}, "No page at ", h("code", {}, location.hash), "."));
    current = null;
    return;
  }
  // A view's render returns nothing, a cleanup function, or {cleanup, update}.
  const page = view.render(node, r);
  current = { view, path: r.path, page: typeof page === "function" ? { cleanup: page } : page || {} };
  // Move focus to the new page for keyboard and screen-reader users (not on first load).
  if (started) main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

let started = false;

function showLive() {
  const el = document.getElementById("live");
  if (store.error && !store.loaded) el.textContent = "Cannot reach marathon";
  else el.textContent = store.connected ? "Live" : "Reconnecting…";
  el.dataset.state = store.connected ? "ok" : "warn";
  const badge = document.getElementById("deploy-count");
  badge.hidden = !store.deployments.length;
  badge.textContent = String(store.deployments.length);
  badge.setAttribute("aria-label", `${store.deployments.length} running`);
}

async function start() {
  await loadConfig();
  subscribe(showLive);
  window.addEventListener("hashchange", route);
  if (!location.hash) history.replaceState(null, "", "#/overview");
  route();
  started = true;
  connect();
  await refresh();
}

start();
