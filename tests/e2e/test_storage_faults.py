"""Storage faults of a real `awaken serve` on SQLite, produced for real: the WAL file deleted or
replaced under the running server, a file size limit that makes writes fail (as a full disk), the
database locked by another process. In each case the server fails closed (503, never a 202 for a
write it cannot keep), says so on both health endpoints, recovers by itself once the cause is
gone, and after a kill -9 and a restart every invocation it acknowledged is there."""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Effects, Server, eventually

pytestmark = pytest.mark.e2e


def healthy(server: Server) -> bool:
    ingress = server.client.get(f"{server.url}/restate/health")
    admin = server.client.get(f"{server.admin_url}/health")
    return ingress.status_code == 200 and admin.status_code == 200


def unhealthy(server: Server, words: str) -> bool:
    """Both health endpoints answer 503, and say why (`words` in the reason)."""
    ingress = server.client.get(f"{server.url}/restate/health")
    admin = server.client.get(f"{server.admin_url}/health")
    return (
        ingress.status_code == 503
        and words in ingress.json()["message"]
        and admin.status_code == 503
        and words in admin.json()["message"]
    )


class Sender:
    """A thread that sends `/flow/work` invocations one after the other, keeping the ids of the
    accepted ones (202) and counting the refused ones (503), until stopped."""

    def __init__(self, server: Server, prefix: str) -> None:
        self.server = server
        self.prefix = prefix
        self.accepted: list[str] = []
        self.refused = 0
        self.other: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sender:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        i = 0
        with httpx.Client(timeout=30.0) as client:
            while not self._stop.is_set():
                i += 1
                try:
                    r = client.post(f"{self.server.url}/flow/work/send", json=f"{self.prefix}{i}")
                except httpx.TransportError as exc:
                    self.other.append(repr(exc))
                    continue
                if r.status_code == 202:
                    self.accepted.append(r.json()["invocationId"])
                elif r.status_code == 503:
                    self.refused += 1
                else:
                    self.other.append(f"{r.status_code} {r.text}")


def recoveries(server: Server) -> int:
    """How often the server reopened its database after a fault (its metrics say)."""
    return server.metric("awaken_storage_recoveries_total")


def all_there(server: Server, invocation_ids: list[str]) -> None:
    """Every invocation is known and completes."""
    for invocation_id in invocation_ids:
        response = server.attach(invocation_id, timeout=30.0)
        assert response.status_code == 200, (invocation_id, response.text)


@pytest.mark.parametrize("synchronous", ["full", "normal"])
@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_deleted_or_replaced_wal_file_loses_no_acknowledged_write(
    make_server: Callable[..., Server], effects: Effects, synchronous: str, how: str
) -> None:
    server = make_server(
        "crash_app:app",
        env={"E2E_EFFECTS_DIR": str(effects.directory)},
        extra_args=["--synchronous", synchronous],
    ).start()
    before = [server.send("/flow/work", f"before{i}") for i in range(30)]
    wal, shm = Path(f"{server.db_path}-wal"), Path(f"{server.db_path}-shm")
    stale = server.workdir / "stale-wal"
    shutil.copyfile(wal, stale)  # a copy of the log as it was: what a volume sync puts back
    assert wal.stat().st_size > 0  # the acknowledged writes are in the log, not yet in the file
    with Sender(server, "during") as sender:
        eventually(lambda: len(sender.accepted) >= 10, what="sends accepted")
        wal.unlink()  # what `rm awaken.db-*` does
        shm.unlink()
        if how == "replaced":
            stale.rename(wal)
        # The server notices, saves the log it still has open into the main file, and opens a
        # new log: writes go on.
        eventually(lambda: recoveries(server) == 1, what="the database reopened")
        assert wal.exists()
        eventually(lambda: healthy(server), what="healthy again")
        accepted = len(sender.accepted)
        eventually(lambda: len(sender.accepted) >= accepted + 10, what="sends accepted after the recovery")
    assert not sender.other, sender.other[:3]
    after = [server.send("/flow/work", f"after{i}") for i in range(5)]

    server.restart()  # kill -9, start again on the same files

    all_there(server, before + sender.accepted + after)


def fill_until_refused(server: Server, payload: str) -> list[str]:
    """Send big invocations until the server refuses one with 503; the accepted ids."""
    accepted: list[str] = []
    for i in range(2000):
        r = server.client.post(f"{server.url}/flow/measure/send", json=f"{payload}{i}")
        if r.status_code == 503:
            return accepted
        assert r.status_code == 202, r.text
        accepted.append(r.json()["invocationId"])
    pytest.fail("the file size limit never made a write fail")


def test_storage_that_cannot_grow_fails_closed_and_recovers_by_itself(
    make_server: Callable[..., Server], effects: Effects
) -> None:
    """The server runs under a file size limit (RLIMIT_FSIZE: a write past it fails with EFBIG,
    as one past a full disk fails with ENOSPC). Once the database reaches it, writes get 503 and
    both health endpoints say why; when the limit is raised (space is back) the server writes
    again by itself, without a restart."""
    limit = 24 * 1024 * 1024
    launcher = [sys.executable, str(Path(__file__).parent / "fsize_launcher.py"), str(limit)]
    server = make_server(
        "crash_app:app",
        env={"E2E_EFFECTS_DIR": str(effects.directory), "AWAKEN_LOG_LEVEL": "warning"},
        launcher=launcher,
    ).start()
    assert server.proc is not None
    payload = "x" * (256 * 1024)
    accepted = fill_until_refused(server, payload)
    assert accepted
    eventually(lambda: unhealthy(server, "cannot"), what="both health endpoints answering 503")
    r = server.client.post(f"{server.url}/flow/work/send", json="refused")
    assert r.status_code == 503, r.text
    assert r.json()["source"] == "ingress"

    # Space is back: the server finds out by itself (no request needed) and writes again.
    resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    eventually(lambda: healthy(server), what="healthy again")
    after = [server.send("/flow/work", f"after{i}") for i in range(5)]

    server.launcher = [sys.executable, "-m", "awaken.cli.main"]  # no limit after the restart
    server.restart()
    all_there(server, accepted + after)


LOCK_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
print("released", flush=True)
"""


def test_a_lock_held_by_another_process_fails_fast_and_recovers_at_once(
    make_server: Callable[..., Server], effects: Effects
) -> None:
    server = make_server("crash_app:app", env={"E2E_EFFECTS_DIR": str(effects.directory)}).start()
    before = [server.send("/flow/work", f"before{i}") for i in range(5)]
    all_there(server, before)
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(server.db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        started = time.monotonic()
        r = server.client.post(f"{server.url}/flow/work/send", json="locked")
        waited = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert "locked" in r.json()["message"]
        assert waited < 5.0  # the bound (2 s by default), not SQLite's 10 s busy timeout
        assert unhealthy(server, "locked")
        # While the lock is held, writes fail at once rather than queue behind it.
        started = time.monotonic()
        r = server.client.post(f"{server.url}/flow/work/send", json="locked again")
        assert r.status_code == 503, r.text
        assert time.monotonic() - started < 1.0
    finally:
        assert holder.stdin is not None
        holder.stdin.write(b"\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
    assert holder.returncode == 0
    eventually(lambda: healthy(server), timeout=2.0, what="healthy once the lock is released")
    after = [server.send("/flow/work", f"after{i}") for i in range(5)]

    server.restart()
    all_there(server, before + after)


def test_the_busy_timeout_is_a_setting(make_server: Callable[..., Server], effects: Effects) -> None:
    env = {"E2E_EFFECTS_DIR": str(effects.directory)}
    server = make_server("crash_app:app", env=env, extra_args=["--sqlite-busy-timeout", "0.2"]).start()
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(server.db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        started = time.monotonic()
        r = server.client.post(f"{server.url}/flow/work/send", json="locked")
        assert r.status_code == 503, r.text
        assert time.monotonic() - started < 1.5
    finally:
        assert holder.stdin is not None
        holder.stdin.write(b"\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
    eventually(lambda: healthy(server), what="healthy once the lock is released")
