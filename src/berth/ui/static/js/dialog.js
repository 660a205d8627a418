// Modal dialogs on the native <dialog>: the page behind is inert, Esc closes, focus stays
// inside (Tab wraps around) and returns to where it was when the dialog closes.

import { h, refocus } from "./dom.js";

/**
 * Ask before acting. `action` runs when the user confirms; while it runs the dialog stays
 * open and shows progress; an error it throws is shown in the dialog (nothing is lost).
 * Resolves with the action's result, or null when cancelled.
 *
 * `fields` are extra inputs (e.g. the instance count for scaling); `action` gets their
 * values by name.
 */
export function confirmDialog({
  title,
  body,
  confirmLabel = "Confirm",
  danger = false,
  fields = [],
  action,
}) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const error = h("p", { class: "dialog-error", role: "alert", hidden: true });
    const inputs = fields.map((f) =>
      h(
        "label",
        { class: "field" },
        h("span", {}, f.label),
        h("input", {
          name: f.name,
          type: f.type || "text",
          value: f.value ?? "",
          min: f.min,
          required: true,
        }),
      ),
    );
    const confirm = h("button", { type: "submit", class: danger ? "danger" : "primary" }, confirmLabel);
    const cancel = h("button", { type: "button", onclick: () => close(null) }, "Cancel");
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", { id: "dialog-title" }, title),
      h("div", { class: "dialog-body" }, body),
      inputs,
      error,
      h("div", { class: "dialog-actions" }, cancel, confirm),
    );
    const dialog = h("dialog", { "aria-labelledby": "dialog-title" }, form);

    let done = false;
    function close(result) {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      refocus(opener); // the page may have redrawn it meanwhile
      resolve(result);
    }

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const values = Object.fromEntries(new FormData(form).entries());
      confirm.disabled = true;
      confirm.textContent = "Working…";
      error.hidden = true;
      try {
        close((await action(values)) ?? true);
      } catch (err) {
        error.textContent = err.message || String(err);
        error.hidden = false;
        confirm.disabled = false;
        confirm.textContent = confirmLabel;
      }
    });
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault(); // Esc: close through our path so focus goes back.
      close(null);
    });
    dialog.addEventListener("keydown", (e) => {
      if (e.key !== "Tab") return;
      const focusable = [...dialog.querySelectorAll("button, input, select, textarea, a[href]")].filter(
        (el) => !el.disabled,
      );
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    (dialog.querySelector("input") || confirm).focus();
  });
}
