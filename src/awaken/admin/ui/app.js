// The shell: a hash router over the views, the token prompt, confirmations and notices.
// Each view is `mount(root, params, shell)` and returns a function that stops it (its polling).

import { onTokenNeeded, setToken, token } from "./api.js";
import { fill, h } from "./dom.js";
import * as awakeables from "./awakeables.js";
import * as invocation from "./invocation.js";
import * as invocations from "./invocations.js";
import * as services from "./services.js";
import * as state from "./state.js";

const VIEWS = {
  invocations: (root, params, shell, rest) =>
    rest.length ? invocation.mount(root, { id: rest[0] }, shell) : invocations.mount(root, params, shell),
  awakeables: (root, params, shell) => awakeables.mount(root, params, shell),
  state: (root, params, shell) => state.mount(root, params, shell),
  services: (root, params, shell) => services.mount(root, params, shell),
  deployments: (root, params, shell) => services.mountDeployments(root, params, shell),
};

let stopView = null;

/** What views may ask of the page. */
const shell = {
  /** Go to `#/section/...?params` (replacing the history entry when `replace`). */
  go(path, params = {}, { replace = false } = {}) {
    const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null));
    const hash = `#${path}${query.toString() ? `?${query}` : ""}`;
    if (replace) {
      window.history.replaceState(null, "", hash);
    } else if (window.location.hash !== hash) {
      window.location.hash = hash; // hashchange renders it
    }
  },
  /** Resolves true once the person confirms `text`. */
  confirm(title, text, action = "Confirm") {
    const dialog = document.getElementById("confirm-dialog");
    document.getElementById("confirm-title").textContent = title;
    document.getElementById("confirm-text").textContent = text;
    document.getElementById("confirm-yes").textContent = action;
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    });
  },
  notify(message) {
    const notice = document.getElementById("notice");
    notice.dataset.fresh = "1"; // survives the navigation that may follow
    fill(notice, h("p", {}, message));
  },
};

let pendingPrompt = null;
let declined = false; // until the person asks for the prompt again (the Token button)

// Several requests may be refused at once: they share one prompt. Once declined, the pages'
// refreshes do not ask again; they show the 401.
function askForToken(reason) {
  if (pendingPrompt) return pendingPrompt;
  if (declined) return Promise.resolve(null);
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  document.getElementById("token-reason").textContent = token()
    ? `The admin API refused the token: ${reason}.`
    : "This admin API needs a token (awaken serve --admin-token).";
  input.value = "";
  dialog.returnValue = "";
  dialog.showModal();
  pendingPrompt = new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        pendingPrompt = null;
        const given = dialog.returnValue === "save" ? input.value.trim() : "";
        declined = !given;
        document.getElementById("token-button").hidden = false;
        resolve(given || null);
      },
      { once: true },
    );
  });
  return pendingPrompt;
}

function render() {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const [section = "invocations", ...rest] = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = Object.fromEntries(new URLSearchParams(query));
  const view = VIEWS[section] ?? VIEWS.invocations;
  if (stopView) stopView();
  const notice = document.getElementById("notice");
  if (notice.dataset.fresh) delete notice.dataset.fresh;
  else fill(notice);
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const root = document.getElementById("view");
  fill(root);
  stopView = view(root, params, shell, rest) ?? null;
}

function start() {
  onTokenNeeded(askForToken);
  const button = document.getElementById("token-button");
  button.hidden = !token();
  button.addEventListener("click", async () => {
    declined = false;
    const given = await askForToken("change the token");
    if (given) setToken(given);
    render();
  });
  window.addEventListener("hashchange", render);
  render();
}

start();
