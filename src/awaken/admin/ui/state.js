// A virtual object's (or workflow's) state: read one key's values, and replace them as a whole
// (what `POST /services/{service}/state` does), refused with 409 while an invocation holds the key.

import { get, post } from "./api.js";
import { errorBox, fill, h, options, payload } from "./dom.js";

export function mount(root, params, shell) {
  const serviceSelect = h("select", { id: "s-service", name: "service", required: true, "aria-label": "Object or workflow" });
  const keyInput = h("input", {
    id: "s-key", name: "key", type: "text", required: true, "aria-label": "Key", value: params.key ?? "",
    list: "s-keys", autocomplete: "off",
  });
  // suggestions: the keys of the service's latest invocations
  const keys = h("datalist", { id: "s-keys" });
  async function suggest() {
    if (!serviceSelect.value) return fill(keys);
    try {
      const { invocations } = await get("/invocations", { service: serviceSelect.value, limit: "200" });
      const seen = [...new Set(invocations.map((i) => i.key).filter((k) => k !== null && k !== undefined))];
      fill(keys, seen.sort().map((k) => h("option", { value: k })));
    } catch {
      fill(keys);
    }
  }
  serviceSelect.addEventListener("change", suggest);
  const problem = h("div");
  const view = h("div");
  const form = h("form", { class: "filters", "aria-label": "Which state" },
    h("label", {}, "Object or workflow", serviceSelect),
    h("label", {}, "Key", keyInput),
    h("button", { type: "submit", class: "primary" }, "Show state"),
    keys);
  root.append(h("h1", {}, "State"), form, problem, view);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    shell.go("/state", { service: serviceSelect.value, key: keyInput.value });
  });

  (async () => {
    try {
      const keyed = (await get("/services")).services.filter((s) => s.ty !== "Service").map((s) => s.name).sort();
      fill(serviceSelect, ...options("pick one", keyed));
      serviceSelect.value = keyed.includes(params.service) ? params.service : "";
      suggest();
    } catch (error) {
      fill(problem, errorBox(error));
      return;
    }
    if (params.service && params.key) await show(params.service, params.key);
  })();

  async function show(service, key) {
    let state;
    try {
      state = (await get(`/services/${encodeURIComponent(service)}/state/${encodeURIComponent(key)}`)).state;
    } catch (error) {
      fill(problem, errorBox(error));
      return;
    }
    const names = Object.keys(state);
    const editor = h("textarea", {
      id: "state-editor", name: "state", rows: Math.min(24, 4 + JSON.stringify(state, null, 2).split("\n").length),
      spellcheck: "false", class: "mono", "aria-describedby": "state-help",
    });
    editor.value = JSON.stringify(state, null, 2);
    const answer = h("div", { id: "state-answer", "aria-live": "polite" });
    const edit = h("form", { "aria-label": "Edit state" },
      h("label", { for: "state-editor" }, "Edit the whole state (a JSON object of names to values)"),
      editor,
      h("p", { id: "state-help", class: "muted small" },
        'Names you remove are deleted. A value that is not JSON shows as {"$base64": "..."}; keep it so to keep its bytes.'),
      h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Save state")),
      answer);
    edit.addEventListener("submit", async (event) => {
      event.preventDefault();
      let next;
      try {
        next = JSON.parse(editor.value);
      } catch (error) {
        fill(answer, errorBox({ message: `not JSON: ${error.message}` }));
        return;
      }
      if (next === null || typeof next !== "object" || Array.isArray(next)) {
        fill(answer, errorBox({ message: "the state must be a JSON object of names to values" }));
        return;
      }
      const removed = names.filter((n) => !(n in next));
      const ok = await shell.confirm(
        "Replace this state?",
        `${service}/${key} gets ${Object.keys(next).length} value(s)` + (removed.length ? `; removed: ${removed.join(", ")}` : "") + ".",
        "Save",
      );
      if (!ok) return;
      try {
        await post(`/services/${encodeURIComponent(service)}/state`, { object_key: key, new_state: next });
        shell.notify(`Saved the state of ${service}/${key}.`);
        await show(service, key);
      } catch (error) {
        fill(answer, errorBox(error), error.status === 409
          ? h("p", { class: "muted" }, "An invocation holds this key now; try again once it is done.")
          : null);
      }
    });
    fill(problem);
    fill(view,
      h("h2", {}, h("span", { class: "mono" }, `${service}/${key}`)),
      names.length
        ? h("div", { class: "table-wrap" }, h("table", { class: "list", "aria-label": "State values" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Value"))),
            h("tbody", {}, names.map((n) => h("tr", { "data-name": n }, h("td", { class: "mono" }, n), h("td", {}, payload(state[n], 200)))))))
        : h("p", { class: "muted", id: "state-empty" }, "No state for this key."),
      h("p", {}, h("a", { href: `#/invocations?service=${encodeURIComponent(service)}&key=${encodeURIComponent(key)}` }, "Invocations of this key")),
      edit,
    );
  }
}
