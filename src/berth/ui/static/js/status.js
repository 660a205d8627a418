// What state an app is in, from its counts, deployments, and its launch-queue entry.
// Pure functions: they see plain data and return plain data.

/** Statuses in the order the services filter lists them; `tone` picks the colour. */
export const STATUSES = {
  running: { label: "Running", tone: "ok" },
  deploying: { label: "Deploying", tone: "info" },
  waiting: { label: "Waiting", tone: "warn" },
  delayed: { label: "Delayed", tone: "bad" },
  unhealthy: { label: "Unhealthy", tone: "bad" },
  suspended: { label: "Suspended", tone: "muted" },
};

// Ordered rules, the first match wins. Each reads (app, queueItem).
const RULES = [
  // Backed off after failed launches: the most urgent thing to see.
  ["delayed", (app, q) => q && q.delay && q.delay.overdue === false && q.delay.timeLeftSeconds > 0],
  // Nothing asked for and nothing left: scaled to zero on purpose.
  ["suspended", (app) => app.instances === 0 && !(app.deployments || []).length && !app.tasksRunning],
  // Offers arrive but none fits (resources, constraints, roles): waiting, deployment or not.
  ["waiting", (app, q) => offersDeclined(q)],
  // A deployment is working on it.
  ["deploying", (app) => (app.deployments || []).length > 0],
  // Instances waiting for offers outside any deployment (e.g. an agent was lost).
  ["waiting", (app, q) => q && q.count > 0],
  ["unhealthy", (app) => app.tasksUnhealthy > 0],
  ["running", (app) => app.tasksRunning >= app.instances],
  // Fewer running than asked, nothing queued yet: about to be replaced.
  ["waiting", () => true],
];

/** True when the app has instances queued and the latest offers were all turned down. */
export function offersDeclined(q) {
  if (!q || !(q.count > 0)) return false;
  const summary = q.processedOffersSummary || {};
  if (!summary.unusedOffersCount || !summary.lastUnusedOfferAt) return false;
  return !summary.lastUsedOfferAt || summary.lastUnusedOfferAt > summary.lastUsedOfferAt;
}

/** Why offers were turned down, in marathon's words: ["insufficient cpus: 64 needed, …"]. */
export function declineReasons(q) {
  const details = (q && q.lastUnusedOffers) || [];
  const out = [...new Set(details.map((o) => o.detail || o.reason).filter(Boolean))];
  if (out.length) return out.slice(0, 3);
  const summary = ((q && q.processedOffersSummary) || {}).rejectSummaryLastOffers || [];
  return summary
    .filter((r) => r.declined > 0)
    .map((r) => `${r.reason} (${r.declined} of ${r.processed} offers)`);
}

/** The status key of an app, e.g. "running". */
export function appStatus(app, queueItem) {
  for (const [status, test] of RULES) if (test(app, queueItem)) return status;
  return "waiting";
}

/** The status of a group: the worst of its apps' statuses. */
const SEVERITY = ["delayed", "unhealthy", "waiting", "deploying", "running", "suspended"];
export function worstStatus(statuses) {
  let best = SEVERITY.length;
  for (const s of statuses) best = Math.min(best, SEVERITY.indexOf(s));
  return SEVERITY[best] || "suspended";
}

/** Mesos task states as short words with a tone. */
export function taskTone(state) {
  if (state === "TASK_RUNNING") return "ok";
  if (["TASK_STAGING", "TASK_STARTING", "TASK_KILLING"].includes(state)) return "info";
  if (["TASK_UNREACHABLE", "TASK_UNKNOWN"].includes(state)) return "warn";
  if (state === "TASK_FINISHED" || state === "TASK_KILLED") return "muted";
  return "bad";
}

export function taskLabel(state) {
  const s = String(state || "unknown")
    .replace(/^TASK_/, "")
    .toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A task's health: "healthy", "unhealthy" or null (no checks / no result yet). */
export function taskHealth(task) {
  const results = task.healthCheckResults || [];
  if (!results.length) return null;
  return results.every((r) => r.alive) ? "healthy" : "unhealthy";
}
