// One invocation: what it is and how it ended, its journal as a timeline, and the actions
// (cancel, kill, pause, resume, purge), each confirmed first.

import { get, patch } from "./api.js";
import { duration, errorBox, fill, h, payload, poll, result, statusBadge, time, when } from "./dom.js";

const REFRESH_MS = 2000;
const PAGE = 200;
const ACTIONS = [
  {
    name: "cancel", label: "Cancel", when: (s) => s !== "completed",
    says: "The handler gets a cancellation at its next await and may compensate; it ends with 409 canceled.",
  },
  {
    name: "kill", label: "Kill", when: (s) => s !== "completed",
    says: "It ends now with 409 killed, with the calls it waits on. No compensation runs.",
  },
  {
    name: "pause", label: "Pause", when: (s) => ["running", "suspended", "backing-off", "ready"].includes(s),
    says: "It stops being retried or resumed until someone resumes it.",
  },
  { name: "resume", label: "Resume", when: (s) => s === "paused", says: "It runs again from its journal." },
  {
    name: "purge", label: "Purge", when: (s) => s === "completed",
    says: "Its record, journal and result are deleted now. This cannot be undone.",
  },
];
const WAITS = new Set(["sleep", "awakeable", "call", "wait", "attach", "get_promise"]);

export function mount(root, { id }, shell) {
  const head = h("div");
  const actions = h("div", { class: "actions", role: "group", "aria-label": "Actions" });
  const outcome = h("div", { "aria-live": "polite" });
  const facts = h("dl", { class: "facts" });
  const timeline = h("ol", { class: "timeline", "aria-label": "Journal" });
  const journalHeading = h("h2", { id: "journal-heading" }, "Journal");
  const problem = h("div");
  root.append(
    h("p", {}, h("a", { href: "#/invocations" }, "← Invocations")),
    head,
    problem,
    actions,
    outcome,
    h("section", { "aria-labelledby": "facts-heading" }, h("h2", { id: "facts-heading", class: "sr-only" }, "Details"), facts),
    h("section", { "aria-labelledby": "journal-heading" }, journalHeading, timeline),
  );

  let current = null;
  let stopped = false;
  // which entries are open ("show all"), kept across refreshes
  const open = new Set();
  let shown = PAGE; // entries drawn: a journal of thousands grows by pages

  async function refresh() {
    try {
      const inv = await get(`/invocations/${encodeURIComponent(id)}`);
      if (stopped) return;
      fill(problem);
      const changed = JSON.stringify(inv) !== JSON.stringify(current);
      current = inv;
      if (changed) render(inv);
      else tick();
    } catch (error) {
      if (stopped) return;
      fill(problem, errorBox(error));
      if (error.status === 404) {
        fill(head, h("h1", { class: "mono" }, id));
        fill(actions);
        fill(facts);
        fill(timeline);
      }
    }
  }

  function render(inv) {
    fill(head,
      h("h1", {}, h("span", { class: "mono" }, inv.target), " ", statusBadge(inv.status)),
      h("p", { class: "mono muted", id: "invocation-id" }, inv.id),
    );
    fill(actions,
      ...ACTIONS.map((a) =>
        h("button", {
          type: "button",
          class: a.name === "kill" || a.name === "purge" ? "danger" : "",
          disabled: !a.when(inv.status),
          "aria-label": `${a.label} invocation`,
          onclick: () => act(a),
        }, a.label)),
      inv.key !== null && inv.key !== undefined
        ? h("a", { class: "button", href: `#/state?service=${encodeURIComponent(inv.service)}&key=${encodeURIComponent(inv.key)}` }, "State of this key")
        : null,
    );
    renderFacts(inv);
    renderTimeline(inv);
  }

  // Between changes only the clocks move: what is waiting has waited longer.
  function tick() {
    for (const el of timeline.querySelectorAll("[data-since]")) {
      el.textContent = `waiting ${duration(Date.now() - Number(el.dataset.since))}`;
    }
  }

  function fact(label, ...value) {
    return [h("dt", {}, label), h("dd", {}, ...value)];
  }

  function renderFacts(inv) {
    const ended = inv.completed_at;
    const rows = [
      fact("Status", statusBadge(inv.status), inv.completion_result ? ` (${inv.completion_result})` : ""),
      inv.output !== null && inv.output !== undefined ? fact("Outcome", result(inv.output, 200)) : null,
      fact("Attempts", String(inv.attempts), inv.attempts ? h("span", { class: "muted" }, " failed so far") : ""),
      inv.run_at && inv.status !== "completed"
        ? fact(inv.status === "scheduled" ? "Starts" : "Next retry", when(inv.run_at))
        : null,
      inv.last_failure ? fact("Last failure", h("span", { class: "failure" }, payload(inv.last_failure, 300))) : null,
      fact("Created", when(inv.created_at), h("span", { class: "muted small" }, ` ${time(inv.created_at)}`)),
      ended ? fact("Completed", when(ended), h("span", { class: "muted" }, ` after ${duration(ended - inv.created_at)}`)) : null,
      fact("Modified", when(inv.modified_at)),
      inv.caller_id
        ? fact("Called by", h("a", { href: `#/invocations/${encodeURIComponent(inv.caller_id)}`, class: "mono", id: "caller-link" }, inv.caller_id))
        : null,
      inv.idempotency_key ? fact("Idempotency key", h("code", {}, inv.idempotency_key)) : null,
      inv.deployment_id ? fact("Deployment", h("code", {}, inv.deployment_id)) : null,
      fact("Input", payload(inv.input, 200)),
    ];
    fill(facts, ...rows.flat().filter(Boolean));
  }

  function renderTimeline(inv) {
    const journal = inv.journal ?? [];
    journalHeading.textContent = `Journal (${journal.length} ${journal.length === 1 ? "entry" : "entries"})`;
    const start = inv.created_at;
    const end = Math.max(
      inv.completed_at ?? Date.now(),
      ...journal.map((e) => e.completed_at ?? e.created_at ?? start),
    );
    const span = Math.max(end - start, 1);
    const hidden = journal.length - shown;
    fill(timeline,
      ...journal.slice(0, shown).map((entry) => entryItem(inv, entry, start, span)),
      hidden > 0
        ? h("li", { class: "entry more" }, h("button", {
            type: "button",
            onclick: () => {
              shown += PAGE;
              renderTimeline(current);
            },
          }, `Show ${Math.min(PAGE, hidden)} more of ${hidden} entries`))
        : null,
      inv.completed_at && hidden <= 0
        ? h("li", { class: "entry end" }, h("div", { class: "entry-head" },
            h("span", { class: "kind" }, "end"),
            h("span", { class: "name" }, inv.completion_result === "failure" ? "failed" : "completed"),
            h("span", { class: "muted" }, `at +${duration(inv.completed_at - start)}`)),
          h("div", { class: "entry-body" }, result(inv.output, 160)))
        : null,
    );
  }

  function entryItem(inv, entry, start, span) {
    const kind = entry.kind === "command" || entry.kind === "notification" ? entry.type ?? entry.kind : entry.kind;
    const began = entry.created_at;
    const finished = entry.completed_at;
    const waiting = !entry.completed;
    const took = began !== null && began !== undefined
      ? (finished ?? (waiting ? Date.now() : began)) - began
      : null;
    const bar = h("div", { class: `bar${waiting ? " open" : ""}${entry.result?.failure ? " failed" : ""}` });
    if (began !== null && began !== undefined) {
      const left = Math.min(99.5, Math.max(0, ((began - start) / span) * 100));
      bar.style.left = `${left}%`;
      bar.style.width = `${Math.min(100 - left, Math.max(0.5, (took / span) * 100))}%`;
    }
    const key = String(entry.index);
    // the raw entry is written out when it is opened: a long journal stays light
    const details = h("details", { class: "raw" }, h("summary", {}, "entry data"));
    details.addEventListener("toggle", () => {
      if (details.open) {
        open.add(key);
        if (details.childElementCount === 1) details.append(h("pre", { class: "json" }, JSON.stringify(entry, null, 2)));
      } else {
        open.delete(key);
      }
    });
    if (open.has(key)) details.open = true;
    return h(
      "li",
      { class: `entry kind-${entry.kind}${waiting ? " waiting" : ""}`, "data-index": key, "data-kind": entry.kind },
      h("div", { class: "entry-head" },
        h("span", { class: "index muted" }, `#${entry.index}`),
        h("span", { class: "kind" }, kind),
        h("span", { class: "name" }, entry.name || ""),
        h("span", { class: "muted small" }, began !== null && began !== undefined ? `+${duration(began - start)}` : ""),
        waiting && (WAITS.has(entry.kind) || entry.kind === "command") && took !== null
          ? h("span", { class: "took", "data-since": String(began) }, `waiting ${duration(took)}`)
          : h("span", { class: "took" }, waiting ? "pending" : took !== null ? duration(took) : "")),
      h("div", { class: "track", "aria-hidden": "true" }, bar),
      h("div", { class: "entry-body" }, ...details_of(inv, entry), details),
    );
  }

  function details_of(inv, entry) {
    const data = entry.data ?? {};
    const out = [];
    const callee = data.invocation_id ?? data.target_invocation_id;
    if (callee && callee !== inv.id) {
      out.push(h("p", {}, entry.kind === "send" ? "sent " : "called ",
        h("a", { href: `#/invocations/${encodeURIComponent(callee)}`, class: "mono callee" }, callee),
        data.target ? h("span", { class: "muted" }, ` (${typeof data.target === "string" ? data.target : JSON.stringify(data.target)})`) : null));
    }
    if (entry.kind === "awakeable" && data.id) {
      out.push(h("p", {}, "awakeable ", h("code", {}, data.id),
        data.deadline ? [" · deadline ", when(data.deadline)] : null,
        !entry.completed ? [" · ", h("a", { href: "#/awakeables" }, "resolve or reject")] : null));
    }
    if (entry.kind === "sleep" && data.wake_at) out.push(h("p", {}, "until ", when(data.wake_at)));
    if (data.attempts) {
      out.push(h("p", { class: "retries" }, `${data.attempts} failed ${data.attempts === 1 ? "try" : "tries"}`,
        data.last_failure ? [", last: ", h("span", { class: "failure" }, payload(data.last_failure, 200))] : null));
    }
    if (entry.kind === "cancel_signal") out.push(h("p", {}, "the cancellation was raised here"));
    if (entry.payload !== null && entry.payload !== undefined) out.push(h("p", {}, "in: ", payload(entry.payload)));
    if (entry.completed) out.push(h("p", {}, entry.result?.failure ? "error: " : "result: ", result(entry.result)));
    return out;
  }

  async function act(action) {
    const ok = await shell.confirm(`${action.label} this invocation?`, `${current.target} (${id}). ${action.says}`, action.label);
    if (!ok) return;
    try {
      const answer = await patch(`/invocations/${encodeURIComponent(id)}/${action.name}`);
      fill(outcome, h("p", { class: "ok", role: "status" }, `${action.label}: ${answer?.result ?? "done"}`));
      if (action.name === "purge") {
        shell.notify(`Purged ${id}.`);
        shell.go("/invocations");
        return;
      }
    } catch (error) {
      fill(outcome, errorBox(error));
    }
    await refresh();
  }

  const stopPolling = poll(refresh, REFRESH_MS);
  return () => {
    stopped = true;
    stopPolling();
  };
}
