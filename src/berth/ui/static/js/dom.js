// Small DOM helpers: build elements declaratively, format numbers and times.

/**
 * Build an element. `attrs` keys: `class`, `text`, `on<Event>` (listeners), `dataset`,
 * `style`, boolean attributes (true adds, false/null/undefined omits), anything else as an
 * attribute. Children may be strings, nodes, arrays or null (skipped).
 *
 *   h("a", { href: "#/x", class: "link" }, "Go")  →  <a href="#/x" class="link">Go</a>
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") el.style.cssText = value;
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Call `fn` once `wait` ms after the last call, but at least every `maxWait` ms. */
export function debounce(fn, wait, maxWait = Infinity) {
  let timer = null;
  let first = 0;
  const run = () => {
    timer = null;
    first = 0;
    fn();
  };
  return () => {
    const now = performance.now();
    if (!first) first = now;
    clearTimeout(timer);
    timer = setTimeout(run, Math.max(0, Math.min(wait, first + maxWait - now)));
  };
}

/** "0.5", "2", "1.25": resource amounts without float noise. */
export function num(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return String(Math.round(value * 10 ** digits) / 10 ** digits);
}

/** MiB as a readable size: 512 → "512 MiB", 2048 → "2 GiB". */
export function mib(value) {
  if (value === null || value === undefined) return "–";
  return value >= 1024 ? `${num(value / 1024, 1)} GiB` : `${num(value, 0)} MiB`;
}

/** A timestamp (ISO string or epoch seconds) as "2 min ago", with the full date on hover. */
export function ago(ts) {
  if (ts === null || ts === undefined || ts === "") return h("span", {}, "–");
  const date = typeof ts === "number" ? new Date(ts * 1000) : new Date(ts);
  const s = Math.round((Date.now() - date.getTime()) / 1000);
  let text;
  if (s < 5) text = "just now";
  else if (s < 60) text = `${s} s ago`;
  else if (s < 3600) text = `${Math.floor(s / 60)} min ago`;
  else if (s < 86400) text = `${Math.floor(s / 3600)} h ago`;
  else text = `${Math.floor(s / 86400)} d ago`;
  return h("time", { datetime: date.toISOString(), title: date.toISOString() }, text);
}

/** Short form of a long id (deployment uuids): first 8 characters. */
export function short(id) {
  return String(id || "").slice(0, 8);
}

/** A labelled usage bar: used of total, with the numbers in text (not colour alone). */
export function bar(label, used, total, format = num) {
  const pct = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  const level = pct >= 90 ? "high" : pct >= 70 ? "mid" : "low";
  return h(
    "div",
    { class: "bar" },
    h("span", { class: "bar-label" }, label),
    h(
      "span",
      {
        class: `bar-track ${level}`,
        role: "meter",
        "aria-label": label,
        "aria-valuemin": "0",
        "aria-valuemax": String(total),
        "aria-valuenow": String(used),
      },
      h("span", { class: "bar-fill", style: `width:${pct.toFixed(1)}%` }),
    ),
    h("span", { class: "bar-text" }, `${format(used)} / ${format(total)}`),
  );
}

/** Show a short message at the bottom of the screen; `node` may contain links. */
export function toast(node, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast ${kind}` }, node);
  box.append(item);
  setTimeout(() => item.remove(), 8000);
}

/** The href for an app or group id: "/web/a" → "#/services/web/a". */
export function serviceHref(id) {
  const path = String(id).replace(/^\/+/, "");
  return path ? `#/services/${path.split("/").map(encodeURIComponent).join("/")}` : "#/services";
}

/**
 * Redraw `container` with `draw()` without losing keyboard focus: an element marked
 * `data-focus="<key>"` that had focus gets it back in its redrawn form.
 */
export function keepFocus(container, draw) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.focus : null;
  draw();
  if (key) container.querySelector(`[data-focus="${CSS.escape(key)}"]`)?.focus({ preventScroll: true });
}

/** Focus `el`, or, if a redraw replaced it meanwhile, its namesake (same data-focus). */
export function refocus(el) {
  if (!el) return;
  if (el.isConnected) el.focus();
  else if (el.dataset && el.dataset.focus) {
    document.querySelector(`[data-focus="${CSS.escape(el.dataset.focus)}"]`)?.focus();
  }
}
