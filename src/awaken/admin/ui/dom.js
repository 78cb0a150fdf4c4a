// Building the page: elements from data (text only, never HTML from the server), and how times,
// durations and JSON values read.

/** `h("a", {href: "#/x", class: "y", onclick: fn}, "text", child)`: an element. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  let value;
  for (const [name, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (name === "class") el.className = v;
    else if (name === "value") value = v;
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), v);
    else if (name === "dataset") Object.assign(el.dataset, v);
    else if (name === "style") Object.assign(el.style, v);
    else el.setAttribute(name, v === true ? "" : String(v));
  }
  append(el, children);
  if (value !== undefined) el.value = value; // after a select's options exist
  return el;
}

/** Replace `el`'s children (null, undefined and false are left out, where replaceChildren would
 * write them as text). */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** An `<option>` list, with `label` as the first, empty choice. */
export function options(label, values) {
  return [h("option", { value: "" }, label), ...values.map((v) => h("option", { value: v }, v))];
}

export function time(ms) {
  if (ms === null || ms === undefined) return "";
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/** 950ms, 12.3s, 4m 05s, 2h 10m, 3d 4h. */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  const sign = ms < 0 ? "-" : "";
  ms = Math.abs(ms);
  if (ms < 1000) return `${sign}${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${sign}${s.toFixed(s < 10 ? 2 : 1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${sign}${m}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${sign}${hours}h ${String(m % 60).padStart(2, "0")}m`;
  return `${sign}${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** "3m 05s ago" / "in 2h 10m". */
export function relative(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return "";
  return ms <= now ? `${duration(now - ms)} ago` : `in ${duration(ms - now)}`;
}

/** A timestamp that reads relative, with the exact time on hover and for screen readers. */
export function when(ms) {
  if (ms === null || ms === undefined) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: new Date(ms).toISOString(), title: time(ms) }, relative(ms));
}

export function compact(value) {
  if (value === undefined) return "";
  return JSON.stringify(value);
}

/** A JSON value, cut at `limit` characters with a "show all" that reveals it whole, pretty. */
export function payload(value, limit = 120) {
  const text = compact(value);
  if (text.length <= limit) return h("code", { class: "json" }, text);
  return h(
    "details",
    { class: "payload" },
    h("summary", {}, h("code", { class: "json" }, text.slice(0, limit) + "…"), " ",
      h("span", { class: "link" }, `show all (${text.length} characters)`)),
    h("pre", { class: "json" }, JSON.stringify(value, null, 2)),
  );
}

/** A result as the admin API gives it: {value} or {failure: {code, message}}. */
export function result(wrapped, limit = 120) {
  if (wrapped === null || wrapped === undefined) return h("span", { class: "muted" }, "pending");
  if (wrapped.failure) {
    const { code, message } = wrapped.failure;
    return h("span", { class: "failure" }, `failed ${code}: `, payload(message, limit));
  }
  return payload(wrapped.value, limit);
}

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}` }, status);
}

export function target(row) {
  return [row.service, row.key, row.handler].filter((p) => p !== null && p !== undefined).join("/");
}

/** Where an error from the admin API shows: status, message, and the validation errors. */
export function errorBox(error) {
  const status = error.status ? `${error.status} ` : "";
  return h(
    "div",
    { class: "error", role: "alert" },
    h("strong", {}, `${status}${error.message}`),
    error.errors?.length
      ? h("ul", {}, error.errors.map((e) => h("li", {}, typeof e === "string" ? e : describeError(e))))
      : null,
  );
}

function describeError(e) {
  if (e && typeof e === "object") {
    const where = e.path ?? e.loc ?? e.json_path;
    const what = e.message ?? e.msg ?? JSON.stringify(e);
    return where !== undefined && where !== "" ? `${Array.isArray(where) ? where.join(".") : where}: ${what}` : what;
  }
  return String(e);
}

/** Run `tick` now and again after each run ends, while the tab is visible; returns `stop()`.
 * `every` is milliseconds, or a function of how long the last run took that returns them. */
export function poll(tick, every) {
  let timer = null;
  let stopped = false;
  const run = async () => {
    timer = null;
    if (stopped) return;
    const began = performance.now();
    if (!document.hidden) {
      try {
        await tick();
      } catch (error) {
        console.warn("refresh failed", error);
      }
    }
    const wait = typeof every === "function" ? every(performance.now() - began) : every;
    if (!stopped) timer = window.setTimeout(run, wait);
  };
  run();
  return () => {
    stopped = true;
    if (timer !== null) window.clearTimeout(timer);
  };
}
