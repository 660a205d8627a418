// Talking to the cluster's public APIs: Marathon /v2, the Mesos master, the agents' /files.
//
// Where they are comes from `berth-ui.json` next to the UI (see berth/ui/__init__.py):
//   {"marathon": "/service/marathon", "mesos": "/mesos", "agent": "/agent/{id}"}  (gateway)
//   {"marathon": "..", "mesos": null, "agent": null}                            (marathon /ui/)

/** An API answer that was not 2xx; `details` holds Marathon's [{path, errors}] when given. */
export class ApiError extends Error {
  constructor(status, body, url) {
    const message =
      (body && typeof body === "object" && body.message) ||
      (typeof body === "string" && body) ||
      `HTTP ${status}`;
    super(message);
    this.status = status;
    this.body = body;
    this.url = url;
    this.details = body && Array.isArray(body.details) ? body.details : [];
  }
}

export const config = { marathon: "", mesos: null, agent: null };

/**
 * Read berth-ui.json next to the page, else at the root (the gateway answers it at
 * /berth-ui.json and serves the UI at both / and /ui/); without one, assume we are served
 * by marathon itself.
 */
export async function loadConfig() {
  for (const url of ["berth-ui.json", "/berth-ui.json"]) {
    try {
      const r = await fetch(url, { cache: "no-store" });
      if (r.ok) {
        const found = await r.json();
        // Relative bases ("..", marathon's answer at /ui/) are relative to the document
        // that gave them, so marathon's UI also works behind a proxy prefix such as the
        // gateway's /service/marathon/ui/.
        for (const key of ["marathon", "mesos", "agent"]) {
          if (found[key]) found[key] = resolveBase(found[key], r.url);
        }
        Object.assign(config, found);
        break;
      }
    } catch {
      // Try the next place; in the end keep the defaults (marathon on this origin only).
    }
  }
  config.marathon = String(config.marathon || "").replace(/\/+$/, "");
  if (config.mesos) config.mesos = String(config.mesos).replace(/\/+$/, "");
  return config;
}

/** "/mesos" stays; ".." against ".../service/marathon/ui/berth-ui.json" → "/service/marathon". */
export function resolveBase(base, documentUrl) {
  if (base.startsWith("/") || /^[a-z]+:/i.test(base)) return base;
  const url = new URL(base, documentUrl);
  // Keep "{id}" templates readable after URL encoding.
  const path = url.pathname.replaceAll("%7Bid%7D", "{id}").replace(/\/+$/, "");
  return url.origin === location.origin ? path : url.origin + path;
}

async function request(url, { method = "GET", body, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const r = await fetch(url, init);
  const text = await r.text();
  let data = text;
  if (text && (r.headers.get("content-type") || "").includes("json")) {
    try {
      data = JSON.parse(text);
    } catch {
      // Leave it as text.
    }
  }
  if (!r.ok) throw new ApiError(r.status, data, url);
  return { data, headers: r.headers, status: r.status };
}

/** Encode an app id for a URL path, keeping its slashes: "/a/b" → "/a/b". */
function idPath(id) {
  return "/" + String(id).replace(/^\/+/, "").split("/").map(encodeURIComponent).join("/");
}

export const marathon = {
  url: (path) => config.marathon + path,
  get: async (path) => (await request(config.marathon + path)).data,
  send: (method, path, body) => request(config.marathon + path, { method, body }),

  apps: async () =>
    (
      await marathon.get(
        "/v2/apps?embed=apps.tasks&embed=apps.deployments&embed=apps.counts&embed=apps.lastTaskFailure",
      )
    ).apps,
  app: async (id) => (await marathon.get(`/v2/apps${idPath(id)}?embed=app.lastTaskFailure`)).app,
  queue: async () => (await marathon.get("/v2/queue?embed=lastUnusedOffers")).queue,
  deployments: () => marathon.get("/v2/deployments"),
  versions: async (id) => (await marathon.get(`/v2/apps${idPath(id)}/versions`)).versions,
  version: (id, v) => marathon.get(`/v2/apps${idPath(id)}/versions/${encodeURIComponent(v)}`),

  create: (def) => marathon.send("POST", "/v2/apps", def),
  // partialUpdate=false: the body is the whole definition, so removed fields go away.
  replace: (id, def) => marathon.send("PUT", `/v2/apps${idPath(id)}?partialUpdate=false`, def),
  scale: (id, instances) => marathon.send("PUT", `/v2/apps${idPath(id)}`, { instances }),
  restart: (id) => marathon.send("POST", `/v2/apps${idPath(id)}/restart`),
  destroy: (id) => marathon.send("DELETE", `/v2/apps${idPath(id)}`),
  // Marathon's rollback: PUT {"version": ts} restores that stored definition as a new version.
  rollback: (id, version) => marathon.send("PUT", `/v2/apps${idPath(id)}`, { version }),
  killTask: (id, taskId) =>
    marathon.send("DELETE", `/v2/apps${idPath(id)}/tasks/${encodeURIComponent(taskId)}`),
  // Without force Marathon starts a deployment reverting the change; with force it just stops.
  cancelDeployment: (id, force) =>
    marathon.send("DELETE", `/v2/deployments/${encodeURIComponent(id)}${force ? "?force=true" : ""}`),
  eventsUrl: () => config.marathon + "/v2/events",
};

export const mesos = {
  available: () => Boolean(config.mesos),
  state: () => request(config.mesos + "/master/state").then((r) => r.data),
};

export const agents = {
  available: () => Boolean(config.agent),
  base: (agentId) => config.agent.replace("{id}", encodeURIComponent(agentId)),
  state: (agentId) => request(agents.base(agentId) + "/state").then((r) => r.data),
  /** Read a sandbox file: {data, offset}; offset -1 asks only for its size. */
  read: (agentId, path, offset, length) => {
    const q = new URLSearchParams({ path, offset: String(offset) });
    if (length !== undefined) q.set("length", String(length));
    return request(`${agents.base(agentId)}/files/read?${q}`).then((r) => r.data);
  },
};

/** The deployment id a deployment-producing call answered with, if any. */
export function deploymentOf(result) {
  if (!result) return null;
  const header = result.headers && result.headers.get("Marathon-Deployment-Id");
  if (header) return header;
  const body = result.data;
  if (body && typeof body === "object") {
    if (body.deploymentId) return body.deploymentId;
    if (Array.isArray(body.deployments) && body.deployments[0]) return body.deployments[0].id;
  }
  return null;
}
