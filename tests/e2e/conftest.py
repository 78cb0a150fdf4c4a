"""Fixtures of the end-to-end tests: the real `awaken serve` in a subprocess, on loopback ports and a
SQLite file of the test, which a test can SIGKILL and start again on the same database.

Side effects of the test services (crash_app.py) are lines appended (and fsynced) to files in a
directory of the test, so that their counts survive the server being killed; `Effects` reads them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parents[1]

READY_TIMEOUT = 15.0
T = TypeVar("T")

MODES = {
    # The engine's defaults: a waiting invocation stays in memory 1 s, then suspends.
    "default": [],
    # Suspend at every await and resume by replay: every resumption goes through the store.
    "always-replay": ["--always-replay"],
}


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL it if the test process dies (no orphaned servers)."""
    if sys.platform == "linux":
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """`n` distinct free ports: the sockets stay bound until all are picked (one at a time, the
    kernel may hand the same port out twice)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(n):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def eventually(
    condition: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.02, what: str = "condition"
) -> T:
    """Poll `condition` until it returns a truthy value (returned), failing after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what} (last value: {last!r})")
        time.sleep(interval)
        last = condition()
    return last


class Effects:
    """Counts of the side effects the test services recorded, one file per effect name, one line
    (`tag value...`) per execution."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def lines(self, name: str) -> list[list[str]]:
        path = self.directory / name
        if not path.exists():
            return []
        return [line.split(" ") for line in path.read_text(encoding="utf-8").splitlines() if line]

    def counts(self, name: str) -> Counter[str]:
        return Counter(fields[0] for fields in self.lines(name))

    def count(self, name: str, tag: str) -> int:
        return self.counts(name)[tag]

    def values(self, name: str, tag: str) -> list[str]:
        """The values recorded by each execution of effect `name` for `tag`, in order."""
        return [" ".join(fields[1:]) for fields in self.lines(name) if fields[0] == tag]

    def release(self, tag: str) -> None:
        """Open the gate `tag` that crash_app's blocking steps wait for (`released`)."""
        (self.directory / f"release.{tag}").write_text("go", encoding="utf-8")


class Server:
    """One `awaken serve` process at a time (started again on the same database after a kill)."""

    def __init__(
        self,
        target: str,
        workdir: Path,
        *,
        cwd: Path = E2E_DIR,
        mode: str = "default",
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        launcher: list[str] | None = None,
        db: str | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.target = target
        self.launcher = launcher or [sys.executable, "-m", "awaken.cli.main"]
        self.workdir = workdir
        self.cwd = cwd
        self.mode = mode
        self.db_path = workdir / "awaken.db"
        self.db = db or f"sqlite:///{self.db_path}"  # an absolute path: sqlite:////tmp/...
        self.extra_args = [*MODES[mode], *(extra_args or [])]
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []
        self.port = 0
        self.admin_port = 0
        # the token the server's admin API wants (--admin-token), sent with every request
        headers = {"authorization": f"Bearer {admin_token}"} if admin_token else {}
        self.client = httpx.Client(timeout=10.0, headers=headers)

    # -- addresses ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    # -- process -----------------------------------------------------------------------------
    def command(self) -> list[str]:
        return [
            *self.launcher, "serve", self.target,
            "--port", str(self.port), "--admin-port", str(self.admin_port),
            "--db", self.db,
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> Server:
        assert self.proc is None or self.proc.poll() is not None, "the server is already running"
        # Fresh ports on every start: nothing can reach the killed process's sockets by mistake.
        self.port, self.admin_port = free_ports(2)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWAKEN_")}
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        log_path = self.workdir / f"server-{len(self.logs) + 1}.log"
        self.logs.append(log_path)
        with open(log_path, "wb") as log:
            log.write(f"$ {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"awaken serve exited with {self.proc.returncode} while starting:\n{self.log_text()}"
                )
            with contextlib.suppress(httpx.TransportError):
                ingress = self.client.get(f"{self.url}/restate/health", timeout=1.0)
                admin = self.client.get(f"{self.admin_url}/health", timeout=1.0)
                if ingress.status_code == 200 and admin.status_code == 200:
                    return
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"awaken serve not ready after {READY_TIMEOUT} s:\n{self.log_text()}")

    def kill(self) -> None:
        """kill -9, and wait until the process is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (a graceful stop); SIGKILL if it has not stopped within `timeout` s."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def crash(self) -> None:
        """kill -9 of the running server (which must not have died on its own before)."""
        assert self.proc is not None
        assert self.proc.poll() is None, f"the server died before the kill:\n{self.log_text()}"
        self.kill()
        assert self.proc.returncode == -signal.SIGKILL

    def freeze(self) -> None:
        """SIGSTOP: the process stops where it is (its connections stay open)."""
        assert self.proc is not None and self.proc.poll() is None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def restart(self) -> Server:
        """kill -9, then start again on the same database."""
        self.crash()
        return self.start()

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.thaw()  # a frozen server would not see the SIGTERM
        self.stop(timeout=3.0)
        self.client.close()

    def log_text(self) -> str:
        return "\n".join(
            f"----- {path.name} -----\n{path.read_text(encoding='utf-8', errors='replace')}"
            for path in self.logs
            if path.exists()
        )

    # -- ingress -----------------------------------------------------------------------------
    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.client.post(f"{self.url}{path}", json=body, **kwargs)

    def send(self, path: str, body: Any = None, **kwargs: Any) -> str:
        """POST {path}/send; the id of the accepted invocation."""
        response = self.client.post(f"{self.url}{path}/send", json=body, **kwargs)
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "Accepted", response.text
        return str(response.json()["invocationId"])

    def resolve(self, awakeable_id: str, payload: Any) -> httpx.Response:
        # What `curl -X POST .../resolve -H 'content-type: application/json' -d '...'` sends.
        return self.client.post(f"{self.url}/restate/awakeables/{awakeable_id}/resolve", json=payload)

    def attach(self, invocation_id: str, timeout: float = 15.0) -> httpx.Response:
        """GET /restate/invocation/{id}/attach: the invocation's answer, once it has one."""
        try:
            return self.client.get(f"{self.url}/restate/invocation/{invocation_id}/attach", timeout=timeout)
        except httpx.TimeoutException:
            record = self.invocation(invocation_id)
            pytest.fail(f"invocation {invocation_id} did not complete within {timeout} s: {record}")

    # -- admin -------------------------------------------------------------------------------
    def admin(self, path: str) -> Any:
        response = self.client.get(f"{self.admin_url}{path}")
        assert response.status_code == 200, response.text
        return response.json()

    def metric(self, name: str) -> int:
        """The value of an unlabelled counter of the server's /metrics (0 if it is not there)."""
        text = self.client.get(f"{self.admin_url}/metrics").text
        return sum(int(float(line.split()[-1])) for line in text.splitlines() if line.startswith(name + " "))

    def pending_awakeables(self) -> dict[str, str]:
        """awakeable id -> invocation id, of the awakeables the admin API lists as pending."""
        rows = self.admin("/awakeables?limit=1000")["awakeables"]
        return {row["id"]: row["invocation_id"] for row in rows}

    def invocation(self, invocation_id: str) -> dict[str, Any]:
        return dict(self.admin(f"/invocations/{invocation_id}"))

    def statuses(self, invocation_ids: list[str]) -> dict[str, str]:
        return {i: self.invocation(i)["status"] for i in invocation_ids}

    def step_recorded(self, invocation_id: str, name: str) -> bool:
        """Whether the journal of the invocation holds the completed ctx.run step `name`."""
        journal = self.invocation(invocation_id)["journal"]
        return any(e["kind"] == "run" and e["name"] == name and e["completed"] for e in journal)


SERVERS = pytest.StashKey[list[Server]]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the server logs to the report of a failed test."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for server in item.stash.get(SERVERS, []):
            report.sections.append((f"awaken serve {server.target} logs", server.log_text()))


@pytest.fixture
def effects(tmp_path: Path) -> Effects:
    return Effects(tmp_path / "effects")


@pytest.fixture
def make_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory of `Server`s (not started); all are stopped at the end of the test."""
    servers: list[Server] = []
    request.node.stash[SERVERS] = servers

    def make(target: str, **kwargs: Any) -> Server:
        workdir = tmp_path / f"server{len(servers) + 1}"
        workdir.mkdir()
        server = Server(target, workdir, **kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(make_server: Callable[..., Server], effects: Effects, mode: str) -> Server:
    """`awaken serve crash_app:app`, started, in each mode."""
    env = {"E2E_EFFECTS_DIR": str(effects.directory)}
    return make_server("crash_app:app", mode=mode, env=env).start()
