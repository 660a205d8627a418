// Running deployments: their steps and progress; roll back (a new deployment that reverts
// the change) or stop (leave things as they are now).

import { deploymentOf, marathon } from "../api.js";
import { confirmDialog } from "../dialog.js";
import { ago, h, replace, serviceHref, short, toast } from "../dom.js";
import { refresh, store, subscribe } from "../live.js";
import { declineReasons, offersDeclined } from "../status.js";

export function render(node, route) {
  const list = h("div", { class: "deployments" });
  node.append(
    h("div", { class: "page-head" }, h("h1", {}, "Deployments")),
    h(
      "p",
      { class: "muted" },
      "Deployments finish and disappear on their own. One that does not finish is usually waiting for resources or for new instances to become healthy.",
    ),
    list,
  );
  let highlight = route.query.get("id");
  let drawn = "";

  function draw() {
    if (!store.loaded) {
      replace(
        list,
        h(
          "p",
          { class: "muted" },
          store.error ? `Cannot load deployments: ${store.error.message}` : "Loading…",
        ),
      );
      return;
    }
    // Redraw only on change, so focus on a button is not lost to a refresh.
    const queued = store.deployments.flatMap((d) =>
      (d.affectedApps || []).map((a) => store.queue.get(a) || null),
    );
    const key = JSON.stringify([store.deployments, queued]) + highlight;
    if (key === drawn) return;
    drawn = key;
    if (!store.deployments.length) {
      replace(
        list,
        h("p", { class: "empty" }, "No deployments are running. Everything is as it was asked to be."),
      );
      return;
    }
    replace(
      list,
      store.deployments.map((d) => card(d, d.id === highlight)),
    );
  }

  const unsubscribe = subscribe(draw);
  draw();
  return {
    update(r) {
      highlight = r.query.get("id");
      draw();
    },
    cleanup: unsubscribe,
  };
}

function card(d, highlighted) {
  const done = Math.max(0, (d.currentStep || 0) - 1);
  const current = new Set((d.currentActions || []).map((a) => `${a.action} ${a.app || a.pod}`));
  return h(
    "article",
    {
      class: `card deployment${highlighted ? " highlight" : ""}`,
      dataset: { deployment: d.id },
      "aria-labelledby": `dep-${d.id}`,
    },
    h(
      "div",
      { class: "card-head" },
      h("h2", { id: `dep-${d.id}` }, "Deployment ", h("code", { title: d.id }, short(d.id))),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", onclick: () => rollback(d) }, "Roll back"),
        h("button", { type: "button", class: "danger", onclick: () => stop(d) }, "Stop"),
      ),
    ),
    h(
      "p",
      {},
      "Affects ",
      (d.affectedApps || []).flatMap((a, i) => [i ? ", " : "", h("a", { href: serviceHref(a) }, a)]),
      " · version ",
      ago(d.version),
    ),
    h(
      "div",
      {
        class: "progress",
        role: "progressbar",
        "aria-valuemin": "0",
        "aria-valuemax": String(d.totalSteps),
        "aria-valuenow": String(done),
        "aria-label": "Steps done",
      },
      h("span", { style: `width:${d.totalSteps ? (done / d.totalSteps) * 100 : 0}%` }),
    ),
    h("p", { class: "small" }, `Step ${d.currentStep} of ${d.totalSteps}`),
    blockers(d),
    h(
      "ol",
      { class: "steps" },
      (d.steps || []).map((s, i) => {
        const state = i < done ? "done" : i === done ? "current" : "pending";
        return h(
          "li",
          { class: state },
          h(
            "span",
            { class: `status ${state === "done" ? "ok" : state === "current" ? "info" : "muted"}` },
            state === "done" ? "Done" : state === "current" ? "In progress" : "Pending",
          ),
          " ",
          (s.actions || []).map((a) =>
            h(
              "span",
              { class: `action${current.has(`${a.action} ${a.app || a.pod}`) ? " now" : ""}` },
              `${a.action} `,
              h("code", {}, a.app || a.pod),
            ),
          ),
        );
      }),
    ),
  );
}

/** Why a deployment may be stuck: its apps' instances waiting in the launch queue. */
function blockers(d) {
  const items = [];
  for (const appId of d.affectedApps || []) {
    const q = store.queue.get(appId);
    if (!q || !q.count) continue;
    const reasons = offersDeclined(q) ? declineReasons(q) : [];
    const delayed = q.delay && q.delay.overdue === false && q.delay.timeLeftSeconds > 0;
    const why = delayed
      ? `launches back off after failures (next in ${Math.ceil(q.delay.timeLeftSeconds)} s)`
      : reasons.length
        ? `offers turned down: ${reasons.join("; ")}`
        : "waiting for offers";
    items.push(
      h("li", {}, h("code", {}, appId), `: ${q.count} instance${q.count === 1 ? "" : "s"} waiting — ${why}`),
    );
  }
  return items.length
    ? h("div", { class: "notice warn" }, h("strong", {}, "Waiting"), h("ul", { class: "list" }, items))
    : null;
}

async function rollback(d) {
  const result = await confirmDialog({
    title: "Roll back deployment",
    body: h(
      "p",
      {},
      "Revert ",
      (d.affectedApps || []).join(", "),
      " to how they were before deployment ",
      h("code", {}, short(d.id)),
      "? This starts a new deployment.",
    ),
    confirmLabel: "Roll back",
    action: async () => {
      const r = await marathon.cancelDeployment(d.id, false);
      await refresh();
      return r;
    },
  });
  if (result && result !== true) {
    toast(`Rollback started deployment ${short(deploymentOf(result))}.`);
  }
}

async function stop(d) {
  const result = await confirmDialog({
    title: "Stop deployment",
    body: h(
      "p",
      {},
      "Stop deployment ",
      h("code", {}, short(d.id)),
      " where it is? Nothing is reverted: the services stay half-way.",
    ),
    confirmLabel: "Stop deployment",
    danger: true,
    action: async () => {
      const r = await marathon.cancelDeployment(d.id, true);
      await refresh();
      return r;
    },
  });
  if (result) toast(`Deployment ${short(d.id)} stopped.`);
}
