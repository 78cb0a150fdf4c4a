// The invocation list: newest first, filtered on the server (service, handler, key, status, age),
// paged by the API's cursor, with the counts per status; refreshed every few seconds.

import { get } from "./api.js";
import { errorBox, fill, h, options, poll, relative, statusBadge, target, when } from "./dom.js";

const STATUSES = ["pending", "scheduled", "ready", "running", "backing-off", "suspended", "paused", "completed"];
const AGES = [
  ["", "any age"],
  ["5m", "last 5 minutes"],
  ["1h", "last hour"],
  ["24h", "last 24 hours"],
  ["7d", "last 7 days"],
];
const AGE_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 };
const PAGE_SIZES = ["25", "50", "100", "200"];
const REFRESH_MS = 2000;

function ageMs(age) {
  const match = /^(\d+)([mhd])$/.exec(age ?? "");
  return match ? Number(match[1]) * AGE_MS[match[2]] : null;
}

export function mount(root, params, shell) {
  const filters = {
    service: params.service ?? "",
    handler: params.handler ?? "",
    key: params.key ?? "",
    status: params.status ?? "",
    age: params.age ?? "",
    limit: PAGE_SIZES.includes(params.limit) ? params.limit : "50",
  };
  // the `before` cursors of the pages seen so far: [null] is the newest page
  const cursors = params.before ? [null, params.before] : [null];

  const serviceSelect = h("select", { id: "f-service", name: "service", "aria-label": "Service" });
  const handlerSelect = h("select", { id: "f-handler", name: "handler", "aria-label": "Handler" });
  const keyInput = h("input", {
    id: "f-key", name: "key", type: "search", placeholder: "any key", "aria-label": "Key", value: filters.key,
  });
  const statusSelect = h(
    "select",
    { id: "f-status", name: "status", "aria-label": "Status", value: filters.status },
    options("any status", STATUSES),
  );
  const ageSelect = h(
    "select",
    { id: "f-age", name: "age", "aria-label": "Age", value: filters.age },
    AGES.map(([v, label]) => h("option", { value: v }, label)),
  );
  const limitSelect = h(
    "select",
    { id: "f-limit", name: "limit", "aria-label": "Rows per page", value: filters.limit },
    PAGE_SIZES.map((n) => h("option", { value: n }, `${n} per page`)),
  );
  const counts = h("ul", { class: "counts", "aria-label": "Invocations per status (of the other filters)" });
  const body = h("tbody");
  const table = h(
    "table",
    { class: "list", "aria-label": "Invocations" },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Invocation"),
      h("th", { scope: "col" }, "Target"),
      h("th", { scope: "col" }, "Status"),
      h("th", { scope: "col", class: "wide" }, "Attempts"),
      h("th", { scope: "col" }, "Created"),
      h("th", { scope: "col", class: "wide" }, "Modified"))),
    body,
  );
  const problem = h("div");
  const newer = h("button", { type: "button", disabled: true }, "← Newer");
  const older = h("button", { type: "button", disabled: true }, "Older →");
  const pageInfo = h("span", { class: "muted", "aria-live": "polite" });
  const refreshed = h("span", { class: "muted small", id: "refreshed" });

  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter invocations" },
    h("label", {}, "Service", serviceSelect),
    h("label", {}, "Handler", handlerSelect),
    h("label", {}, "Key", keyInput),
    h("label", {}, "Status", statusSelect),
    h("label", {}, "Age", ageSelect),
    h("label", {}, "Rows", limitSelect),
    h("button", { type: "reset", class: "quiet" }, "Clear"),
  );

  root.append(
    h("div", { class: "heading" }, h("h1", {}, "Invocations"), refreshed),
    counts,
    form,
    problem,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "pager" }, newer, pageInfo, older),
  );

  let services = [];
  let generation = 0;
  let lastDrawn = "";

  function apply({ keepPage = false } = {}) {
    filters.handler = handlerSelect.value;
    if (filters.service !== serviceSelect.value) {
      filters.service = serviceSelect.value;
      fillHandlers(); // another service's handlers; the handler filter goes if it has none of that name
      filters.handler = handlerSelect.value;
    }
    filters.key = keyInput.value.trim();
    filters.status = statusSelect.value;
    filters.age = ageSelect.value;
    filters.limit = limitSelect.value;
    if (!keepPage) cursors.splice(1);
    shell.go("/invocations", { ...filters, before: cursors.at(-1) ?? "" }, { replace: true });
    refresh();
  }

  function fillHandlers() {
    const svc = services.find((s) => s.name === serviceSelect.value);
    const names = svc ? svc.handlers.map((hd) => hd.name) : [];
    const keep = names.includes(filters.handler) ? filters.handler : "";
    fill(handlerSelect, ...options(svc ? "any handler" : "pick a service first", names));
    handlerSelect.disabled = !svc;
    handlerSelect.value = keep;
  }

  async function loadServices() {
    try {
      services = (await get("/services")).services;
    } catch (error) {
      services = [];
    }
    const names = services.map((s) => s.name).sort();
    if (filters.service && !names.includes(filters.service)) names.push(filters.service);
    fill(serviceSelect, ...options("any service", names));
    serviceSelect.value = filters.service;
    fillHandlers();
  }

  async function refresh() {
    const mine = ++generation;
    const since = ageMs(filters.age);
    const query = {
      service: filters.service,
      handler: filters.handler,
      key: filters.key,
      status: filters.status,
      created_after: since === null ? "" : String(Date.now() - since),
      limit: filters.limit,
      before: cursors.at(-1) ?? "",
    };
    try {
      const { status, limit, before, ...narrowing } = query; // the counts are per status
      const [page, totals] = await Promise.all([get("/invocations", query), get("/invocations/counts", narrowing)]);
      if (mine !== generation) return; // a newer request has answered or will
      fill(problem);
      // redrawn only when something changed (keyboard focus stays put); the ages move anyway
      const drawn = JSON.stringify([filters.status, totals, page.invocations]);
      if (drawn !== lastDrawn) {
        lastDrawn = drawn;
        renderCounts(totals);
        renderRows(page.invocations);
      } else {
        for (const el of body.querySelectorAll("time[datetime]")) {
          el.textContent = relative(Date.parse(el.getAttribute("datetime")));
        }
      }
      const pageNo = cursors.length;
      pageInfo.textContent = `page ${pageNo}, ${page.invocations.length} shown`;
      newer.disabled = pageNo === 1;
      older.disabled = !page.next_page;
      older.dataset.next = page.next_page ?? "";
      refreshed.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (mine === generation) fill(problem, errorBox(error));
    }
  }

  function renderCounts(totals) {
    const all = Object.values(totals).reduce((a, b) => a + b, 0);
    fill(counts,
      h("li", {}, h("button", {
        type: "button", class: filters.status === "" ? "count active" : "count",
        "aria-pressed": String(filters.status === ""), onclick: () => pickStatus(""),
      }, "all ", h("strong", {}, String(all)))),
      ...STATUSES.map((status) =>
        h("li", {}, h("button", {
          type: "button",
          class: `count status-${status}${filters.status === status ? " active" : ""}`,
          "aria-pressed": String(filters.status === status),
          "data-status": status,
          onclick: () => pickStatus(status),
        }, `${status} `, h("strong", {}, String(totals[status] ?? 0))))),
    );
  }

  function pickStatus(status) {
    statusSelect.value = status;
    apply();
  }

  function renderRows(rows) {
    if (!rows.length) {
      fill(body, h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No invocations match.")));
      return;
    }
    fill(body,
      ...rows.map((row) =>
        h("tr", { "data-id": row.id },
          h("td", {}, h("a", { href: `#/invocations/${encodeURIComponent(row.id)}`, class: "mono" }, row.id)),
          h("td", { class: "mono" }, target(row)),
          h("td", {}, statusBadge(row.status), row.completion_result === "failure" ? h("span", { class: "failure small" }, " failed") : null),
          h("td", { class: "wide" }, String(row.attempts)),
          h("td", {}, when(row.created_at)),
          h("td", { class: "wide" }, when(row.modified_at)))),
    );
  }

  form.addEventListener("change", () => apply());
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  let typing = null;
  keyInput.addEventListener("input", () => {
    window.clearTimeout(typing);
    typing = window.setTimeout(() => apply(), 300);
  });
  form.addEventListener("reset", () => window.setTimeout(() => apply(), 0));
  newer.addEventListener("click", () => {
    cursors.pop();
    apply({ keepPage: true });
  });
  older.addEventListener("click", () => {
    if (!older.dataset.next) return;
    cursors.push(older.dataset.next);
    apply({ keepPage: true });
  });

  let stopped = false;
  let stopPolling = () => {};
  // On a large database a refresh costs the server more: the page then asks less often.
  const every = (took) => Math.min(Math.max(REFRESH_MS, 10 * took), 30_000);
  loadServices().then(() => {
    if (!stopped) stopPolling = poll(refresh, every);
  });
  return () => {
    stopped = true;
    stopPolling();
    window.clearTimeout(typing);
  };
}
