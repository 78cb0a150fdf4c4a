"""Real SDK endpoints in subprocesses, for tests that speak the service protocol to them.

Each endpoint binds 127.0.0.1 port 0 itself and prints `{"port": N}` once it listens, so there is
no port race and no sleep: `start_endpoint` reads that line (with a deadline) and returns.

Endpoints (`ENDPOINTS`):
- `ts-h2`, `ts-h1`: services written with `@restatedev/restate-sdk` (endpoints/ts/server.js),
  on node's http2 server (h2c, bidirectional) or http server (HTTP/1.1, request/response);
- `py-hypercorn`, `py-uvicorn`: the same services written with `restate-sdk`
  (endpoints/py/app.py) under hypercorn (h2c) and uvicorn (HTTP/1.1);
- `bad-h2`, `bad-h1`: the misbehaving endpoint (endpoints/misbehaving.py) under the same servers.

With CI=true, a missing node, npm or npm package fails the tests; elsewhere the TypeScript
endpoints are installed on first use (`npm ci`) or, without npm, their tests are skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
TS_DIR = HERE / "endpoints" / "ts"
READY_TIMEOUT = 30.0
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

HttpVersion = Literal["1.1", "2"]


@dataclass(frozen=True, slots=True)
class EndpointKind:
    name: str
    sdk: Literal["typescript", "python", "misbehaving"]
    http_version: HttpVersion

    @property
    def bidi(self) -> bool:
        return self.http_version == "2"

    def command(self) -> list[str]:
        if self.sdk == "typescript":
            return [_node(), str(TS_DIR / "server.js")]
        server = "hypercorn" if self.http_version == "2" else "uvicorn"
        app = (
            "tests.protocol.endpoints.py.app:app"
            if self.sdk == "python"
            else "tests.protocol.endpoints.misbehaving:app"
        )
        return [sys.executable, "-m", "tests.protocol.endpoints.serve", server, app]


ENDPOINTS = {
    kind.name: kind
    for kind in (
        EndpointKind("ts-h2", "typescript", "2"),
        EndpointKind("ts-h1", "typescript", "1.1"),
        EndpointKind("py-hypercorn", "python", "2"),
        EndpointKind("py-uvicorn", "python", "1.1"),
        EndpointKind("bad-h2", "misbehaving", "2"),
        EndpointKind("bad-h1", "misbehaving", "1.1"),
    )
}


def client_ports(port: int) -> set[int]:
    """The peer ports of the established TCP connections to local `port` (Linux /proc)."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    ports.add(int(fields[2].rsplit(":", 1)[1], 16))
    return ports


@dataclass
class Endpoint:
    kind: EndpointKind
    url: str
    process: subprocess.Popen[bytes]
    identity_keys: tuple[str, ...] = ()
    log: deque[str] = field(default_factory=lambda: deque(maxlen=400))

    @property
    def http_version(self) -> HttpVersion:
        return self.kind.http_version

    def log_tail(self) -> str:
        """What the endpoint printed lately (its output is drained so it never blocks on a pipe)."""
        return "\n".join(list(self.log)[-40:])

    def _drain(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            self.log.append(line.decode(errors="replace").rstrip())


def _missing(what: str) -> None:
    message = f"{what} (needed by the protocol tests against the TypeScript SDK)"
    if ON_CI:
        pytest.fail(message + ": CI must install it (.ci/run)", pytrace=False)
    pytest.skip(message)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed")
    assert node is not None
    return node


def ensure_ts_installed() -> None:
    """The pinned npm packages under endpoints/ts, installed from the lock file if missing."""
    _node()
    if (TS_DIR / "node_modules" / "@restatedev" / "restate-sdk" / "package.json").exists():
        return
    if ON_CI:
        _missing("endpoints/ts/node_modules is missing: run `npm ci` there")
    npm = shutil.which("npm")
    if npm is None:
        _missing("npm is not installed")
    assert npm is not None
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=TS_DIR,
        capture_output=True,
        timeout=300,
    )
    if done.returncode != 0:
        _missing(f"`npm ci` failed: {done.stderr.decode(errors='replace')[-500:]}")


def _read_port(process: subprocess.Popen[bytes], stdout: IO[bytes], deadline: float) -> int:
    """The port of the first `{"port": N}` line (the SDKs may log other lines first)."""
    buffer = b""
    while True:
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.startswith(b'{"port"'):
                return int(json.loads(line)["port"])
        remaining = deadline - time.monotonic()
        if remaining <= 0 or process.poll() is not None:
            raise RuntimeError("endpoint exited or did not report its port in time")
        ready, _, _ = select.select([stdout], [], [], min(remaining, 0.5))
        if ready:
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError("endpoint closed its stdout before reporting its port")
            buffer += chunk


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL it if the test process dies (no orphaned servers)."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start_endpoint(
    kind: EndpointKind, identity_keys: tuple[str, ...] = (), env: Mapping[str, str] | None = None
) -> Endpoint:
    if kind.sdk == "typescript":
        ensure_ts_installed()
    child_env = {
        **os.environ,
        **(env or {}),
        "ENDPOINT_HTTP_VERSION": kind.http_version,
        "ENDPOINT_IDENTITY_KEYS": ",".join(identity_keys),
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        kind.command(),
        cwd=REPO_ROOT,
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_die_with_parent,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        port = _read_port(process, process.stdout, time.monotonic() + READY_TIMEOUT)
    except Exception as exc:
        process.kill()
        _, err = process.communicate(timeout=10)
        raise RuntimeError(
            f"{kind.name} endpoint failed to start: {exc}\n{err.decode(errors='replace')[-2000:]}"
        ) from exc
    endpoint = Endpoint(kind, f"http://127.0.0.1:{port}", process, identity_keys)
    for stream in (process.stdout, process.stderr):
        threading.Thread(target=endpoint._drain, args=(stream,), daemon=True).start()
    return endpoint


def stop_endpoint(endpoint: Endpoint) -> None:
    # SIGKILL: the endpoints keep no state, and restate-sdk takes over SIGTERM for its own hooks.
    process = endpoint.process
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


@contextlib.contextmanager
def running(kind: EndpointKind, identity_keys: tuple[str, ...] = ()) -> Iterator[Endpoint]:
    endpoint = start_endpoint(kind, identity_keys)
    try:
        yield endpoint
    finally:
        stop_endpoint(endpoint)
