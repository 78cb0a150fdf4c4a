// Pending awakeables: who waits on each, since when, until when, for what type; and a form to
// resolve one (the payload checked against its schema in the browser first) or reject it. The
// server's answer shows as it is: 202, or 400 with its errors, 409, 410.

import { get, post } from "./api.js";
import { errorBox, fill, h, payload, poll, relative, target, time, when } from "./dom.js";
import { example, summary, validate } from "./schema.js";

const REFRESH_MS = 3000;

export function mount(root, params, shell) {
  const body = h("tbody");
  const problem = h("div");
  const panel = h("section", { class: "panel", id: "complete-panel", hidden: true, "aria-labelledby": "complete-heading" });
  const refreshed = h("span", { class: "muted small" });
  root.append(
    h("div", { class: "heading" }, h("h1", {}, "Pending awakeables"), refreshed),
    h("p", { class: "muted" }, "Handlers waiting for something from outside. Resolve one with a JSON payload of its type, or reject it."),
    problem,
    h("div", { class: "table-wrap" }, h(
      "table",
      { class: "list", "aria-label": "Pending awakeables" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Awakeable"),
        h("th", { scope: "col" }, "Invocation"),
        h("th", { scope: "col", class: "wide" }, "Target"),
        h("th", { scope: "col" }, "Age"),
        h("th", { scope: "col" }, "Deadline"),
        h("th", { scope: "col" }, "Expected type"),
        h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
      body,
    )),
    panel,
  );

  let stopped = false;
  let selected = params.id ?? null;
  let rows = [];

  async function refresh() {
    try {
      const fresh = (await get("/awakeables", { limit: "1000" })).awakeables;
      if (stopped) return;
      fill(problem);
      // redrawn only when something changed (keyboard focus stays put); the ages move anyway
      if (JSON.stringify(fresh) !== JSON.stringify(rows) || !body.childElementCount) {
        rows = fresh;
        renderRows();
      } else {
        for (const el of body.querySelectorAll("[data-created]")) {
          el.textContent = relative(Number(el.dataset.created)).replace(" ago", "");
        }
      }
      refreshed.textContent = `updated ${new Date().toLocaleTimeString()}`;
      if (selected && panel.hidden) {
        const row = rows.find((r) => r.id === selected);
        if (row) openForm(row);
      }
    } catch (error) {
      if (!stopped) fill(problem, errorBox(error));
    }
  }

  function renderRows() {
    if (!rows.length) {
      fill(body, h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No awakeable is pending.")));
      return;
    }
    const now = Date.now();
    fill(body,
      ...rows.map((row) =>
        h("tr", { "data-id": row.id, class: row.id === selected ? "selected" : "" },
          h("td", { class: "mono" }, row.id),
          h("td", {}, h("a", { class: "mono", href: `#/invocations/${encodeURIComponent(row.invocation_id)}` }, row.invocation_id)),
          h("td", { class: "mono wide" }, target(row)),
          h("td", {}, h("span", { title: time(row.created_at), "data-created": String(row.created_at) },
            relative(row.created_at, now).replace(" ago", ""))),
          h("td", {}, row.deadline ? when(row.deadline) : h("span", { class: "muted" }, "none")),
          h("td", {}, h("code", {}, summary(row.schema))),
          h("td", {}, h("button", {
            type: "button", class: "primary",
            "aria-label": `Resolve or reject ${row.id}`,
            onclick: () => openForm(row),
          }, "Resolve / reject")))),
    );
  }

  function openForm(row) {
    selected = row.id;
    renderRows();
    const answer = h("div", { id: "complete-answer", "aria-live": "polite" });
    const checks = h("ul", { class: "checks", id: "payload-checks", "aria-live": "polite" });
    const payloadInput = h("textarea", {
      id: "payload", name: "payload", rows: 6, spellcheck: "false", class: "mono",
      "aria-describedby": "payload-checks",
      placeholder: row.schema ? `for example ${JSON.stringify(example(row.schema))}` : "any JSON value",
    });
    const skip = h("input", { type: "checkbox", id: "skip-check", name: "skip" });
    const resolveButton = h("button", { type: "submit", class: "primary" }, "Resolve");
    const reason = h("input", { id: "reason", name: "reason", type: "text", required: true, autocomplete: "off" });
    const code = h("input", { id: "code", name: "code", type: "number", min: 400, max: 599, value: "500", required: true });
    const schema = row.schema;

    function check() {
      const text = payloadInput.value.trim();
      let problems = [];
      if (text === "") {
        fill(checks, h("li", { class: "muted" }, "write the payload as JSON: null, 42, \"text\", {...}"));
        resolveButton.disabled = true;
        return ["empty"];
      } else {
        try {
          problems = schema ? validate(schema, JSON.parse(text)) : [];
        } catch (error) {
          problems = [`not JSON: ${error.message}`];
        }
      }
      fill(checks,
        ...(problems.length
          ? problems.map((p) => h("li", { class: "failure" }, p))
          : [h("li", { class: "ok" }, schema ? "matches the expected type" : "valid JSON (any type is accepted)")]),
      );
      payloadInput.setAttribute("aria-invalid", String(problems.length > 0));
      resolveButton.disabled = problems.length > 0 && !skip.checked;
      return problems;
    }
    payloadInput.addEventListener("input", check);
    skip.addEventListener("change", check);

    const resolveForm = h("form", { "aria-label": "Resolve" },
      h("h3", {}, "Resolve"),
      h("label", { for: "payload" }, "Payload (JSON)"),
      payloadInput,
      checks,
      h("label", { class: "inline" }, skip, " send without checking in the browser (the server still checks)"),
      h("div", { class: "buttons" }, resolveButton));
    resolveForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (check().length && !skip.checked) return;
      await send("resolve", payloadInput.value.trim());
    });

    const rejectForm = h("form", { "aria-label": "Reject" },
      h("h3", {}, "Reject"),
      h("label", { for: "reason" }, "Reason"),
      reason,
      h("label", { for: "code" }, "Code (400–599)"),
      code,
      h("div", { class: "buttons" }, h("button", { type: "submit", class: "danger" }, "Reject")));
    rejectForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const ok = await shell.confirm("Reject this awakeable?", `The handler's await raises a terminal error: ${reason.value}`, "Reject");
      if (ok) await send("reject", JSON.stringify({ reason: reason.value, code: Number(code.value) }));
    });

    async function send(action, text) {
      fill(answer, h("p", { class: "muted" }, "sending…"));
      try {
        const result = await post(`/awakeables/${encodeURIComponent(row.id)}/${action}`, text);
        fill(answer, h("p", { class: "ok", role: "status" },
          `${action === "resolve" ? "Resolved" : "Rejected"}: ${result.status}. `,
          h("a", { href: `#/invocations/${encodeURIComponent(row.invocation_id)}` }, "See the invocation")));
        await refresh();
      } catch (error) {
        fill(answer, errorBox(error), explain(error.status));
      }
    }

    fill(panel,
      h("div", { class: "heading" },
        h("h2", { id: "complete-heading" }, "Complete ", h("span", { class: "mono" }, row.id)),
        h("button", { type: "button", class: "quiet", "aria-label": "Close the form", onclick: close }, "Close")),
      h("p", {}, "Waited on by ", h("a", { class: "mono", href: `#/invocations/${encodeURIComponent(row.invocation_id)}` }, row.invocation_id),
        ` (${target(row)})`, row.deadline ? [", deadline ", when(row.deadline)] : null),
      h("details", { open: true }, h("summary", {}, `Expected type: ${summary(schema)}`),
        schema ? h("pre", { class: "json", id: "schema" }, JSON.stringify(schema, null, 2)) : h("p", { class: "muted" }, "Any JSON value.")),
      h("div", { class: "forms" }, resolveForm, rejectForm),
      answer,
    );
    panel.hidden = false;
    check();
    payloadInput.focus();
  }

  function close() {
    panel.hidden = true;
    fill(panel);
    selected = null;
    renderRows();
  }

  const stopPolling = poll(refresh, REFRESH_MS);
  return () => {
    stopped = true;
    stopPolling();
  };
}

function explain(status) {
  const why = {
    400: "The server refused the payload: it does not match the awakeable's type.",
    404: "No such awakeable.",
    409: "It was completed differently already.",
    410: "Too late: its deadline passed or its invocation has ended.",
  }[status];
  return why ? h("p", { class: "muted" }, why) : null;
}
