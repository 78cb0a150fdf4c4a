"""The web UI's files (`/ui`), served by the admin app from the package: plain HTML, ES modules
and CSS, nothing to build. They hold no data, so they load without the admin token; every request
they make for data goes to the admin API and carries it.

Only names of the `ui` folder are served (no path reaches outside it), with a content security
policy that lets the page talk to its own origin and nothing else.
"""

from __future__ import annotations

import re
from importlib import resources

from awaken.ingress.http import Send, respond

_TYPES = {
    "html": b"text/html; charset=utf-8",
    "js": b"text/javascript; charset=utf-8",
    "css": b"text/css; charset=utf-8",
    "svg": b"image/svg+xml",
}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(html|js|css|svg)$")
_SECURITY = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    # a new version of awaken must not run against an old module the browser kept
    (b"cache-control", b"no-cache"),
]


def is_ui_path(path: str) -> bool:
    return path == "/ui" or path.startswith("/ui/")


async def serve(method: str, path: str, send: Send) -> None:
    """Answer a request for `path` (`/ui`, `/ui/`, `/ui/<file>`)."""
    if path == "/ui":  # relative module URLs need the trailing slash
        await respond(send, 308, b"", [(b"location", b"/ui/")])
        return
    name = path[len("/ui/") :] or "index.html"
    if method not in ("GET", "HEAD"):
        await respond(send, 405, b"method not allowed", [(b"allow", b"GET, HEAD")])
        return
    match = _NAME.match(name)
    data = _read(name) if match else None
    if match is None or data is None:
        await respond(send, 404, b"not found", [(b"content-type", b"text/plain; charset=utf-8")])
        return
    headers = [(b"content-type", _TYPES[match.group(1)]), *_SECURITY]
    await respond(send, 200, data, headers)  # the server leaves the body out for HEAD


def _read(name: str) -> bytes | None:
    try:
        return resources.files("awaken.admin").joinpath("ui", name).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
