"""Stopping the real `awaken serve` with SIGINT / SIGTERM while clients wait on calls: it exits
within its grace period, the waiting callers get a clean 503, a call that completes meanwhile gets
its answer, and what was accepted goes on after the next start. A second signal exits at once; a
port that cannot be bound stops the process before anything starts."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import E2E_DIR, Effects, Server, eventually, free_port, free_ports

pytestmark = pytest.mark.e2e

GRACE = 3.0
# The process exits by the end of the grace period; this covers the interpreter's own exit and a
# loaded machine (the measured figure is printed).
SLACK = 1.0


def _waiting_server(make_server: Callable[..., Server], effects: Effects, grace: float = GRACE) -> Server:
    env = {"E2E_EFFECTS_DIR": str(effects.directory)}
    return make_server("crash_app:app", env=env, extra_args=["--shutdown-grace", str(grace)]).start()


def _signal_and_time(server: Server, sig: signal.Signals, limit: float) -> tuple[int, float]:
    assert server.proc is not None and server.proc.poll() is None
    started = time.monotonic()
    server.proc.send_signal(sig)
    try:
        code = server.proc.wait(timeout=limit + 10)
    except subprocess.TimeoutExpired:
        server.kill()
        pytest.fail(f"awaken serve still ran {limit + 10:.0f} s after {sig.name}:\n{server.log_text()}")
    return code, time.monotonic() - started


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_with_callers_waiting_is_bounded_and_loses_nothing(
    make_server: Callable[..., Server], effects: Effects, sig: signal.Signals
) -> None:
    server = _waiting_server(make_server, effects)
    url = server.url
    with ThreadPoolExecutor(max_workers=4) as pool:
        # Two calls that wait on awakeables (the README's first curl), one attach to the first,
        # and a call whose timer fires during the grace period.
        calls: dict[str, Future[httpx.Response]] = {
            tag: pool.submit(httpx.post, f"{url}/flow/approve", json=tag, timeout=30) for tag in ("w1", "w2")
        }
        awakeables = {
            tag: eventually(lambda tag=tag: effects.values("hand_out", tag), what=f"{tag} handed out")[0]
            for tag in calls
        }
        pending = server.pending_awakeables()
        ids = {tag: pending[awakeables[tag]] for tag in calls}
        attach = pool.submit(httpx.get, f"{url}/restate/invocation/{ids['w1']}/attach", timeout=30)
        nap = pool.submit(httpx.post, f"{url}/flow/nap", json={"tag": "n", "seconds": 0.3}, timeout=30)
        eventually(lambda: effects.count("nap_before", "n") == 1, what="the nap started")

        code, elapsed = _signal_and_time(server, sig, GRACE)
        print(f"{sig.name}: exited {code} after {elapsed:.2f} s (grace {GRACE} s)")
        assert code == 0, server.log_text()
        assert elapsed <= GRACE + SLACK, f"{elapsed:.2f} s"

        for waiting in (*calls.values(), attach):
            answer = waiting.result(timeout=5)
            assert answer.status_code == 503, answer.text
            body = answer.json()
            assert body["code"] == 503 and body["source"] == "ingress"
            assert "shutting down" in body["message"]
        napped = nap.result(timeout=5)  # it completed within the grace period: its answer came
        assert napped.status_code == 200, napped.text
        assert napped.json()["tag"] == "n"

    log = server.log_text()
    # the attach may reach the server after the signal: then it gets its 503 at once, not at the
    # end of the grace period with the others
    assert "stopping (" in log and re.search(r"answered [23] waiting request\(s\) with 503", log)
    assert "Traceback" not in log

    server.start()  # the same database: the waiting invocations are still there
    for tag in calls:
        assert server.resolve(awakeables[tag], f"ok-{tag}").status_code == 202
    for tag, invocation_id in ids.items():
        done = server.attach(invocation_id)
        assert done.status_code == 200, done.text
        assert done.json()["got"] == f"ok-{tag}"
    assert effects.counts("hand_out") == {"w1": 1, "w2": 1}  # nothing ran twice
    assert effects.counts("step_b") == {"w1": 1, "w2": 1}


def test_a_second_signal_exits_at_once(make_server: Callable[..., Server], effects: Effects) -> None:
    server = _waiting_server(make_server, effects, grace=30.0)
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(httpx.post, f"{server.url}/flow/approve", json="s", timeout=30)
        eventually(lambda: effects.values("hand_out", "s"), what="the hand-out")
        assert server.proc is not None
        server.proc.send_signal(signal.SIGINT)
        eventually(lambda: "stopping (SIGINT received)" in server.log_text(), what="the first signal seen")
        code, elapsed = _signal_and_time(server, signal.SIGINT, 1.0)
        print(f"second SIGINT: exited {code} after {elapsed:.2f} s")
        assert code == 128 + signal.SIGINT and elapsed < 1.5
        with pytest.raises(httpx.TransportError):  # the connection went with the process
            waiting.result(timeout=5).raise_for_status()
    assert "SIGINT again: exiting now" in server.log_text()


def _serve(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "awaken", "serve", "crash_app:app", "--db", f"sqlite:///{db}", *args],
        cwd=E2E_DIR,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("taken", ["ingress", "admin API"])
def test_a_port_in_use_stops_the_process_before_anything_starts(tmp_path: Path, taken: str) -> None:
    ingress, admin = free_ports(2)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ingress if taken == "ingress" else admin))
        holder.listen()
        done = _serve("--port", str(ingress), "--admin-port", str(admin), db=tmp_path / "a.db")
    busy = ingress if taken == "ingress" else admin
    assert done.returncode == 3, done.stderr
    assert f"cannot listen on 127.0.0.1:{busy} for the {taken}: Address already in use" in done.stderr
    assert "Traceback" not in done.stderr and "serving" not in done.stderr
    assert not (tmp_path / "a.db").exists()  # the engine never started


def test_the_ready_line_comes_once_both_ports_listen(tmp_path: Path) -> None:
    """With --port 0 the ready line gives the port the kernel chose; both accept connections the
    moment the line is printed."""
    admin = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "awaken", "serve", "crash_app:app", "--db", f"sqlite:///{tmp_path / 'a.db'}",
         "--port", "0", "--admin-port", str(admin), "--log-format", "json"],
        cwd=E2E_DIR, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line, f"awaken serve exited before it was ready: {lines}"
            record = json.loads(line)  # every line is JSON with --log-format json
            lines.append(record)
            if record["message"].startswith("serving "):
                break
        ready = lines[-1]
        assert ready["logger"] == "awaken.serve" and ready["level"] == "INFO"
        assert f"admin API on http://127.0.0.1:{admin}" in ready["message"]
        port = int(ready["message"].split("ingress on http://127.0.0.1:")[1].split(",")[0])
        assert port > 0
        for p in (port, admin):
            socket.create_connection(("127.0.0.1", p), timeout=2).close()
        assert httpx.get(f"http://127.0.0.1:{port}/restate/health").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{admin}/health").status_code == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
