// Create and edit a service: a form for the common fields and a JSON editor for all of them.
// Both edit one definition object; switching between them carries the changes over.
// Marathon's validation errors ({path: "/cpus", errors: [...]}) are shown next to the field
// their path names, or above the form when no field owns that path.

import { ApiError, deploymentOf, marathon } from "../api.js";
import { h, replace, serviceHref, short, toast } from "../dom.js";
import { refresh, store, subscribe } from "../live.js";
import { definitionOf } from "./service.js";

// Each form field: the JSON path marathon reports errors under, and how to read/write it.
const FIELDS = [
  {
    name: "id",
    label: "ID",
    path: "/id",
    hint: "A path such as /shop/web. Lowercase letters, digits and dashes.",
  },
  {
    name: "image",
    label: "Container image",
    path: "/container",
    hint: "A Docker image, e.g. nginx:1.27. Leave empty to run the command on the host.",
  },
  {
    name: "cmd",
    label: "Command",
    path: "/cmd",
    kind: "textarea",
    hint: "Run with /bin/sh -c. Optional with an image.",
  },
  { name: "cpus", label: "CPUs", path: "/cpus", type: "number", step: "0.01", min: "0" },
  { name: "mem", label: "Memory (MiB)", path: "/mem", type: "number", step: "1", min: "0" },
  { name: "instances", label: "Instances", path: "/instances", type: "number", step: "1", min: "0" },
  {
    name: "ports",
    label: "Ports",
    path: "/portDefinitions",
    hint: "Host ports, comma-separated; 0 picks a free one. Empty for none.",
  },
  { name: "env", label: "Environment", path: "/env", kind: "textarea", hint: "One NAME=value per line." },
  {
    name: "hcProtocol",
    label: "Health check",
    path: "/healthChecks",
    kind: "select",
    options: ["", "HTTP", "TCP", "COMMAND"],
  },
  {
    name: "hcPath",
    label: "Health check path or command",
    path: "/healthChecks/0",
    hint: "HTTP: a path such as /health. COMMAND: a shell command.",
  },
];

const DEFAULTS = {
  id: "",
  cmd: "",
  cpus: 0.1,
  mem: 128,
  instances: 1,
  portDefinitions: [{ port: 0, protocol: "tcp" }],
};

/** The form's values for a definition. */
export function formValues(def) {
  const hc = (def.healthChecks || [])[0] || {};
  const ports = def.portDefinitions || (def.ports || []).map((port) => ({ port }));
  return {
    id: def.id || "",
    image: (def.container && def.container.docker && def.container.docker.image) || "",
    cmd: def.cmd || "",
    cpus: def.cpus ?? "",
    mem: def.mem ?? "",
    instances: def.instances ?? "",
    ports: ports.map((p) => p.port ?? 0).join(", "),
    env: Object.entries(def.env || {})
      .filter(([, v]) => typeof v === "string")
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
    hcProtocol: hc.protocol ? String(hc.protocol).replace(/^MESOS_/, "") : "",
    hcPath: hc.protocol === "COMMAND" ? (hc.command && hc.command.value) || "" : hc.path || "",
  };
}

/** Apply form values onto a definition (fields the form does not show are kept). */
export function applyForm(def, v) {
  const out = { ...def };
  const setOrDrop = (key, value) => {
    if (value === "" || value === undefined) delete out[key];
    else out[key] = value;
  };
  setOrDrop("id", v.id.trim());
  setOrDrop("cmd", v.cmd.trim());
  // Numbers go out as typed; marathon judges them (so "-1" gets marathon's own message).
  for (const key of ["cpus", "mem", "instances"]) setOrDrop(key, v[key] === "" ? "" : Number(v[key]));
  if (v.image.trim()) {
    const container = { type: "DOCKER", ...(out.container || {}) };
    container.docker = { ...(container.docker || {}), image: v.image.trim() };
    out.container = container;
  } else if (out.container && out.container.docker) {
    delete out.container;
  }
  const ports = v.ports
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((p) => Number(p));
  const oldPorts = out.portDefinitions || [];
  out.portDefinitions = ports.map((port, i) => ({ ...(oldPorts[i] || { protocol: "tcp" }), port }));
  delete out.ports;
  if (out.networks && out.networks.some((n) => n.mode !== "host")) {
    // Port definitions belong to host networking; bridge apps use portMappings (JSON editor).
    delete out.portDefinitions;
  }
  const env = {
    ...Object.fromEntries(Object.entries(out.env || {}).filter(([, val]) => typeof val !== "string")),
  };
  for (const line of v.env.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  setOrDrop("env", Object.keys(env).length ? env : "");
  if (v.hcProtocol) {
    const old = (out.healthChecks || [])[0] || {};
    const hc = { ...old, protocol: v.hcProtocol };
    if (v.hcProtocol === "COMMAND") {
      hc.command = { value: v.hcPath };
      delete hc.path;
      delete hc.portIndex;
    } else {
      delete hc.command;
      if (v.hcProtocol === "HTTP") hc.path = v.hcPath || "/";
      else delete hc.path;
    }
    out.healthChecks = [hc, ...(out.healthChecks || []).slice(1)];
  } else {
    delete out.healthChecks;
  }
  return out;
}

/**
 * Which field shows an error at `path`: the field whose path is the longest prefix of it.
 * Marathon writes array indexes as "/healthChecks(0)/path" and Berth as "/healthChecks/0/path";
 * both are understood.
 */
export function fieldFor(path) {
  const norm = String(path || "").replace(/\((\d+)\)/g, "/$1");
  let best = null;
  for (const f of FIELDS) {
    if (norm === f.path || norm.startsWith(f.path + "/")) {
      if (!best || f.path.length > best.path.length) best = f;
    }
  }
  return best;
}

export function render(node, route) {
  const editing = route.section === "edit";
  const id = editing ? "/" + route.path : null;
  let def = null;
  let mode = "form";

  const title = h("h1", {}, editing ? `Edit ${id}` : "Create a service");
  const general = h("div", { class: "form-errors", role: "alert", id: "form-errors" });
  const inputs = {};
  const errors = {};
  const fieldsBox = h(
    "div",
    { class: "form-grid" },
    FIELDS.map((f) => {
      const inputId = `field-${f.name}`;
      const errId = `error-${f.name}`;
      const hintId = f.hint ? `hint-${f.name}` : null;
      let input;
      if (f.kind === "textarea")
        input = h("textarea", {
          id: inputId,
          name: f.name,
          rows: f.name === "env" ? "4" : "2",
          spellcheck: "false",
        });
      else if (f.kind === "select")
        input = h(
          "select",
          { id: inputId, name: f.name },
          f.options.map((o) => h("option", { value: o }, o || "None")),
        );
      else
        input = h("input", {
          id: inputId,
          name: f.name,
          type: f.type || "text",
          step: f.step,
          min: f.min,
          autocomplete: "off",
          spellcheck: "false",
        });
      input.setAttribute("aria-describedby", [errId, hintId].filter(Boolean).join(" "));
      inputs[f.name] = input;
      errors[f.name] = h("p", { class: "field-error", id: errId, dataset: { path: f.path } });
      return h(
        "div",
        { class: `field ${f.kind === "textarea" ? "wide" : ""}`, dataset: { field: f.name } },
        h("label", { for: inputId }, f.label),
        input,
        hintId ? h("p", { class: "hint", id: hintId }, f.hint) : null,
        errors[f.name],
      );
    }),
  );
  if (editing) inputs.id.readOnly = true;

  const json = h("textarea", {
    id: "json-editor",
    class: "code",
    rows: "24",
    spellcheck: "false",
    "aria-label": "App definition as JSON",
    "aria-describedby": "form-errors",
  });
  const formPane = h("div", { id: "form-pane" }, fieldsBox);
  const jsonPane = h("div", { id: "json-pane", hidden: true }, json);
  const modeButtons = [
    ["form", "Form"],
    ["json", "JSON"],
  ].map(([key, label]) =>
    h(
      "button",
      {
        type: "button",
        class: "small",
        "aria-pressed": String(key === mode),
        onclick: () => switchMode(key),
      },
      label,
    ),
  );
  const submit = h(
    "button",
    { type: "submit", class: "primary" },
    editing ? "Save and deploy" : "Create and deploy",
  );
  const form = h(
    "form",
    { class: "app-form", novalidate: true, onsubmit: (e) => (e.preventDefault(), save()) },
    h(
      "div",
      { class: "toolbar" },
      h("span", { role: "group", "aria-label": "Editor", class: "seg" }, modeButtons),
    ),
    general,
    formPane,
    jsonPane,
    h(
      "div",
      { class: "form-actions" },
      h("a", { class: "button", href: editing ? serviceHref(id) : "#/services" }, "Cancel"),
      submit,
    ),
  );
  node.append(title, form);

  function fill() {
    const values = formValues(def);
    for (const [k, v] of Object.entries(values)) inputs[k].value = String(v);
    json.value = JSON.stringify(def, null, 2);
  }

  /** The definition as the active editor has it; throws on unparseable JSON. */
  function current() {
    if (mode === "json") {
      try {
        return JSON.parse(json.value);
      } catch (e) {
        throw new Error(`The JSON does not parse: ${e.message}`);
      }
    }
    const values = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value]));
    return applyForm(def, values);
  }

  function switchMode(next) {
    if (next === mode) return;
    try {
      def = current();
    } catch (e) {
      showErrors([{ path: "", errors: [e.message] }]);
      return;
    }
    mode = next;
    fill();
    formPane.hidden = mode !== "form";
    jsonPane.hidden = mode !== "json";
    modeButtons.forEach((b, i) =>
      b.setAttribute("aria-pressed", String((i === 0 ? "form" : "json") === mode)),
    );
  }

  function clearErrors() {
    general.replaceChildren();
    for (const [name, el] of Object.entries(errors)) {
      el.textContent = "";
      inputs[name].removeAttribute("aria-invalid");
    }
  }

  /** Place each {path, errors} next to its field; the rest above the form. */
  function showErrors(details, message) {
    clearErrors();
    const loose = [];
    let firstInvalid = null;
    for (const d of details) {
      const f = mode === "form" ? fieldFor(d.path) : null;
      const text = (d.errors || []).map(humanize).join("; ");
      if (f) {
        errors[f.name].textContent =
          (errors[f.name].textContent ? errors[f.name].textContent + "; " : "") +
          (f.path === d.path ? text : `${d.path}: ${text}`);
        inputs[f.name].setAttribute("aria-invalid", "true");
        firstInvalid = firstInvalid || inputs[f.name];
      } else loose.push(d.path && d.path !== "/" ? `${d.path}: ${text}` : text);
    }
    if (message || loose.length) {
      const lead = message || "Please fix:";
      const more = firstInvalid && !loose.length ? " Fix the marked fields below." : "";
      replace(
        general,
        h("p", {}, h("strong", {}, lead), more),
        loose.length
          ? h(
              "ul",
              {},
              loose.map((t) => h("li", {}, t)),
            )
          : null,
      );
    }
    (firstInvalid || general).focus?.();
  }

  async function save() {
    let body;
    try {
      body = current();
    } catch (e) {
      showErrors([{ path: "", errors: [e.message] }]);
      return;
    }
    clearErrors();
    submit.disabled = true;
    try {
      const result = editing ? await marathon.replace(id, body) : await marathon.create(body);
      await refresh();
      const dep = deploymentOf(result);
      const target = editing ? id : (result.data && result.data.id) || body.id;
      toast(
        h(
          "span",
          {},
          `${editing ? "Saved" : "Created"} ${target}: deployment ${short(dep)} started. `,
          h("a", { href: "#/deployments" }, "Deployments"),
        ),
      );
      location.hash = serviceHref(target);
    } catch (e) {
      if (e instanceof ApiError && e.details.length)
        showErrors(
          e.details,
          e.message === "Object is not valid" || e.message === "Invalid JSON"
            ? "The service was not saved:"
            : e.message,
        );
      else showErrors([], e.message || String(e));
    } finally {
      submit.disabled = false;
    }
  }

  // New: defaults (inside the group we came from). Edit: the stored definition.
  if (!editing) {
    const group = route.query.get("group");
    def = { ...DEFAULTS, id: group ? `${group.replace(/\/$/, "")}/` : "" };
    fill();
    return null;
  }
  const load = () => {
    const app = store.byId.get(id);
    if (!store.loaded || def) return;
    if (!app) {
      replace(
        node,
        h("h1", {}, `Edit ${id}`),
        h("p", { class: "notice" }, "No such service. ", h("a", { href: "#/services" }, "Back to services")),
      );
      return;
    }
    def = definitionOf(app);
    fill();
  };
  const unsubscribe = subscribe(load);
  load();
  return unsubscribe;
}

// Marathon's schema errors are codes; say them in words.
const CODES = {
  "error.min": "Too small",
  "error.max": "Too large",
  "error.expected.jsnumber": "Must be a number",
  "error.expected.jsstring": "Must be text",
  "error.expected.jsarray": "Must be a list",
  "error.expected.jsobject": "Must be an object",
  "error.path.missing": "Required",
};

function humanize(text) {
  return CODES[text] ? `${CODES[text]} (${text})` : text;
}
