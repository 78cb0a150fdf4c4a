// The admin API, as the UI calls it: JSON in and out, the token (if the API wants one) kept for
// this tab in sessionStorage and sent as a bearer token with every request.

const TOKEN_KEY = "awaken.adminToken";
// The admin API is the origin the UI is served from, one level up from /ui/.
const BASE = new URL("..", window.location.href);

export class ApiError extends Error {
  constructor(status, message, errors) {
    super(message);
    this.status = status;
    this.errors = errors ?? null;
  }
}

let askForToken = null;

/** `prompt(reason)` resolves to a token, or null if the person declines. */
export function onTokenNeeded(prompt) {
  askForToken = prompt;
}

export function token() {
  return window.sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) window.sessionStorage.setItem(TOKEN_KEY, value);
  else window.sessionStorage.removeItem(TOKEN_KEY);
}

export function url(path, params) {
  const target = new URL(path.replace(/^\//, ""), BASE);
  for (const [name, value] of Object.entries(params ?? {})) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(name, value);
  }
  return target;
}

/** One request; the parsed JSON answer, or an ApiError with the server's status and message. */
export async function request(method, path, { params, body } = {}) {
  for (let tries = 0; ; tries++) {
    const headers = { accept: "application/json" };
    const current = token();
    if (current) headers.authorization = `Bearer ${current}`;
    const init = { method, headers };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url(path, params), init);
    } catch (error) {
      throw new ApiError(0, `the admin API cannot be reached (${error.message})`);
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (response.status === 401 && askForToken && tries < 5) {
      const given = await askForToken(data?.message ?? "this admin API needs a token");
      if (given) {
        setToken(given);
        continue;
      }
    }
    if (!response.ok) {
      const message = data?.message ?? (text || response.statusText);
      throw new ApiError(response.status, message, data?.errors);
    }
    return data;
  }
}

export const get = (path, params) => request("GET", path, { params });
export const post = (path, body) => request("POST", path, { body });
export const patch = (path) => request("PATCH", path);
