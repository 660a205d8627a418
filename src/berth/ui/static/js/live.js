// The live store: everything marathon knows, kept fresh by its event stream.
//
// Events are not applied one by one (that would duplicate marathon's bookkeeping and drift);
// an event only says "something changed", and a debounced refetch brings the full picture.
// At most one refetch runs at a time; one that is asked for while another runs follows it.

import { marathon, mesos } from "./api.js";
import { debounce } from "./dom.js";
import { appStatus } from "./status.js";

const RECENT_EVENTS = 100;
const QUIET = new Set(["event_stream_attached", "event_stream_detached"]);

export const store = {
  loaded: false,
  error: null,
  apps: [], // AppInfo with tasks, deployments, counts, lastTaskFailure
  byId: new Map(), // app id → app
  queue: new Map(), // app id → queue item
  deployments: [],
  status: new Map(), // app id → status key
  events: [], // most recent first: {eventType, timestamp, ...}
  connected: false,
  version: 0, // bumped on every refresh; views compare it to skip needless work
};

const listeners = new Set();

/** Call `fn()` after every refresh and event; returns the function that unsubscribes. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify() {
  for (const fn of [...listeners]) {
    try {
      fn();
    } catch (e) {
      console.error(e);
    }
  }
}

let inFlight = null;
let again = false;
let lastRefreshAt = 0;

/** Fetch apps, queue and deployments; resolves when the store holds the result. */
export async function refresh() {
  if (inFlight) {
    again = true;
    return inFlight;
  }
  inFlight = (async () => {
    lastRefreshAt = performance.now();
    try {
      const [apps, queue, deployments] = await Promise.all([
        marathon.apps(),
        marathon.queue(),
        marathon.deployments(),
      ]);
      apps.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      store.apps = apps;
      store.byId = new Map(apps.map((a) => [a.id, a]));
      store.queue = new Map(queue.filter((q) => q.app).map((q) => [q.app.id, q]));
      store.deployments = deployments;
      store.status = new Map(apps.map((a) => [a.id, appStatus(a, store.queue.get(a.id))]));
      store.error = null;
      store.loaded = true;
      store.version += 1;
    } catch (e) {
      store.error = e;
    }
    notify();
  })();
  try {
    await inFlight;
  } finally {
    inFlight = null;
  }
  if (again) {
    again = false;
    return refresh();
  }
  return undefined;
}

const refreshSoon = debounce(refresh, 150, 1000);

let source = null;

/** Follow marathon's event stream; every event schedules a refresh. */
export function connect() {
  if (source) return;
  source = new EventSource(marathon.eventsUrl());
  source.onopen = () => {
    store.connected = true;
    // Whatever happened while we were away, fetch it now (the stream has no replay).
    refreshSoon();
    notify();
  };
  source.onerror = () => {
    store.connected = false;
    notify(); // EventSource reconnects by itself.
  };
  source.onmessage = (m) => onEvent(m.data);
  // Marathon names every frame (`event: <type>`); named events reach only listeners for
  // that name, so listen for each type marathon sends (berth/marathon/events.py).
  for (const type of EVENT_TYPES) source.addEventListener(type, (m) => onEvent(m.data));
  scheduleSafetyRefresh();
}

// The stream carries no replay, and offers turned down or a backoff running out make no
// event: a periodic refresh is the safety net, quicker while something is in flight.
function scheduleSafetyRefresh() {
  setInterval(() => {
    const busy = store.queue.size > 0 || store.deployments.length > 0;
    if (busy || performance.now() - lastRefreshAt >= 30_000) refresh();
  }, 5_000);
}

const EVENT_TYPES = [
  "api_post_event",
  "group_change_success",
  "group_change_failed",
  "deployment_info",
  "deployment_step_success",
  "deployment_step_failure",
  "deployment_success",
  "deployment_failed",
  "status_update_event",
  "instance_changed_event",
  "instance_health_changed_event",
  "health_status_changed_event",
  "add_health_check_event",
  "remove_health_check_event",
  "failed_health_check_event",
  "unhealthy_instance_kill_event",
  "app_terminated_event",
  "unknown_instance_terminated_event",
  "framework_message_event",
  "scheduler_registered_event",
  "scheduler_reregistered_event",
  "scheduler_disconnected_event",
  "pod_created_event",
  "pod_updated_event",
  "pod_deleted_event",
];

function onEvent(raw) {
  let event;
  try {
    event = JSON.parse(raw);
  } catch {
    return;
  }
  if (!event || QUIET.has(event.eventType)) return;
  store.events.unshift(event);
  if (store.events.length > RECENT_EVENTS) store.events.length = RECENT_EVENTS;
  refreshSoon();
  for (const fn of eventListeners) fn(event);
}

const eventListeners = new Set();

/** Call `fn(event)` for each event as it arrives (views that want more than a refresh). */
export function onEachEvent(fn) {
  eventListeners.add(fn);
  return () => eventListeners.delete(fn);
}

/** Deployments that touch `appId`. */
export function deploymentsOf(appId) {
  return store.deployments.filter((d) => (d.affectedApps || []).includes(appId));
}

// The master's state, polled only while a page shows it (Nodes, Overview), and re-read
// soon after task events (a task that started or stopped changes an agent's allocation).

const MASTER_POLL_MS = 3000;
export const master = { state: null, error: null };
const masterWatchers = new Set();
let masterTimer = null;
let stopMasterEvents = null;

async function pollMaster() {
  clearTimeout(masterTimer);
  try {
    master.state = await mesos.state();
    master.error = null;
  } catch (e) {
    master.error = e;
  }
  for (const fn of [...masterWatchers]) fn();
  if (masterWatchers.size) masterTimer = setTimeout(pollMaster, MASTER_POLL_MS);
}

const pollMasterSoon = debounce(pollMaster, 300, 1500);

/** Call `fn()` whenever the master's state was read; returns the function that stops. */
export function watchMaster(fn) {
  if (!mesos.available()) return () => {};
  masterWatchers.add(fn);
  if (masterWatchers.size === 1) {
    pollMaster();
    stopMasterEvents = onEachEvent((e) => {
      if (e.eventType === "status_update_event") pollMasterSoon();
    });
  } else if (master.state) fn();
  return () => {
    masterWatchers.delete(fn);
    if (!masterWatchers.size) {
      clearTimeout(masterTimer);
      if (stopMasterEvents) stopMasterEvents();
    }
  };
}
