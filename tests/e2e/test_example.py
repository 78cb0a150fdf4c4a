"""The story of examples/payments.py, as its docstring (and the README) tells it, against the real
`awaken serve examples.payments:app` run from the repository root."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import REPO_ROOT, Server, eventually

pytestmark = pytest.mark.e2e


class Payments:
    def __init__(self, server: Server, outbox: Path) -> None:
        self.server = server
        self.outbox = outbox
        self.pool = ThreadPoolExecutor(max_workers=4)

    def tasks(self) -> list[dict[str, Any]]:
        if not self.outbox.exists():
            return []
        return [json.loads(line) for line in self.outbox.read_text(encoding="utf-8").splitlines() if line]

    def tasks_for(self, kind: str, subject: str) -> list[dict[str, Any]]:
        return [t for t in self.tasks() if t["kind"] == kind and t["subject"] == subject]

    def approval_id(self, kind: str, subject: str) -> str:
        """The awakeable id of the approval task for `subject`, once it is in the outbox."""
        tasks = eventually(lambda: self.tasks_for(kind, subject), what=f"approval task of {subject}")
        return str(tasks[0]["awakeable_id"])

    def call(self, path: str, body: Any) -> Future[httpx.Response]:
        """A blocking call (what `curl -X POST` does), in the background."""
        url = f"{self.server.url}{path}"
        return self.pool.submit(httpx.post, url, json=body, timeout=15.0)


@pytest.fixture
def payments(make_server: Callable[..., Server], tmp_path: Path) -> Iterator[Payments]:
    outbox = tmp_path / "approvals.jsonl"
    server = make_server("examples.payments:app", cwd=REPO_ROOT, env={"PAYMENTS_OUTBOX": str(outbox)})
    app = Payments(server.start(), outbox)
    yield app
    app.pool.shutdown(wait=False, cancel_futures=True)


def test_charge_approved(payments: Payments) -> None:
    charge = payments.call("/payments/charge", {"order_id": "o-1", "amount_cents": 4200})
    approval_id = payments.approval_id("charge", "o-1")
    assert payments.tasks_for("charge", "o-1") == [
        {"kind": "charge", "subject": "o-1", "amount_cents": 4200, "awakeable_id": approval_id}
    ]
    listed = payments.server.pending_awakeables()
    assert approval_id in listed

    answer = payments.server.resolve(approval_id, {"approved": True, "reviewer": "ada"})
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"status": "Accepted"}
    response = charge.result(timeout=15)
    assert response.status_code == 200, response.text
    assert response.json() == {"order_id": "o-1", "receipt": "rcpt-o-1", "approved_by": "ada"}
    assert response.headers["x-restate-id"] == listed[approval_id]
    assert len(payments.tasks()) == 1


def test_serve_from_the_examples_directory(make_server: Callable[..., Server], tmp_path: Path) -> None:
    """`cd examples && awaken serve payments:app`, with the console script, as the docstring says."""
    script = shutil.which("awaken", path=str(Path(sys.executable).parent)) or shutil.which("awaken")
    if script is None:
        pytest.skip("the awaken console script is not installed")
    outbox = tmp_path / "approvals.jsonl"
    server = make_server(
        "payments:app", cwd=REPO_ROOT / "examples", env={"PAYMENTS_OUTBOX": str(outbox)}, launcher=[script]
    )
    payments = Payments(server.start(), outbox)
    try:
        charge = payments.call("/payments/charge", {"order_id": "o-9", "amount_cents": 1})
        approval_id = payments.approval_id("charge", "o-9")
        assert server.resolve(approval_id, {"approved": True, "reviewer": "kim"}).status_code == 202
        response = charge.result(timeout=15)
        assert response.status_code == 200, response.text
        assert response.json() == {"order_id": "o-9", "receipt": "rcpt-o-9", "approved_by": "kim"}
    finally:
        payments.pool.shutdown(wait=False, cancel_futures=True)


def test_charge_declined_or_rejected(payments: Payments) -> None:
    declined = payments.call("/payments/charge", {"order_id": "o-2", "amount_cents": 100})
    rejected = payments.call("/payments/charge", {"order_id": "o-3", "amount_cents": 200})

    # A verdict that does not fit the awakeable's type is refused, and changes nothing.
    bad = payments.server.resolve(payments.approval_id("charge", "o-2"), {"approved": "perhaps"})
    assert bad.status_code == 400, bad.text
    answer = payments.server.resolve(
        payments.approval_id("charge", "o-2"), {"approved": False, "reviewer": "bob"}
    )
    assert answer.status_code == 202, answer.text
    response = declined.result(timeout=15)
    assert response.status_code == 402, response.text
    assert response.json() == {"code": 402, "message": "payment declined by bob", "source": "invocation"}

    # curl -X POST .../reject -d 'card looks stolen' (curl's default content type)
    answer = payments.server.client.post(
        f"{payments.server.url}/restate/awakeables/{payments.approval_id('charge', 'o-3')}/reject",
        content=b"card looks stolen",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 202, answer.text
    response = rejected.result(timeout=15)
    assert response.status_code == 500, response.text
    assert response.json() == {"code": 500, "message": "card looks stolen", "source": "invocation"}


def test_charge_survives_kill(payments: Payments) -> None:
    server = payments.server
    invocation_id = server.send("/payments/charge", {"order_id": "o-4", "amount_cents": 999})
    approval_id = payments.approval_id("charge", "o-4")
    eventually(lambda: server.step_recorded(invocation_id, "ask for approval"), what="the task recorded")

    server.restart()

    assert approval_id in server.pending_awakeables()
    assert server.resolve(approval_id, {"approved": True, "reviewer": "eve"}).status_code == 202
    response = server.attach(invocation_id)
    assert response.status_code == 200, response.text
    assert response.json() == {"order_id": "o-4", "receipt": "rcpt-o-4", "approved_by": "eve"}
    assert len(payments.tasks_for("charge", "o-4")) == 1  # the approval was asked for once


def test_withdrawal_keeps_its_account_locked(payments: Payments) -> None:
    server = payments.server
    assert server.post("/accounts/alice/deposit", 100).json() == 100
    withdrawal = server.send("/accounts/alice/withdraw", 30)
    approval_id = payments.approval_id("withdrawal", "alice")
    deposit = server.send("/accounts/alice/deposit", 5)  # queues behind the withdrawal
    # Other accounts go on; shared handlers read alice's balance while she is locked.
    assert server.post("/accounts/bob/deposit", 7).json() == 7
    assert server.post("/accounts/alice/balance").json() == 100
    assert server.invocation(deposit)["status"] == "pending"

    assert server.resolve(approval_id, {"approved": True, "reviewer": "ada"}).status_code == 202
    assert server.attach(withdrawal).json() == 70
    assert server.attach(deposit).json() == 75
    assert server.post("/accounts/alice/balance").json() == 75


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "awaken.cli.main", *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cli_lists_resolves_and_rejects_awakeables(payments: Payments) -> None:
    server = payments.server
    approved = payments.call("/payments/charge", {"order_id": "c-1", "amount_cents": 10})
    declined = payments.call("/payments/charge", {"order_id": "c-2", "amount_cents": 20})
    first = payments.approval_id("charge", "c-1")
    second = payments.approval_id("charge", "c-2")

    listed = json.loads(_cli("awakeables", "ls", "--json", "--admin-url", server.admin_url))
    by_id = {row["id"]: row for row in listed}
    assert {first, second} <= set(by_id)
    assert by_id[first]["service"] == "payments" and by_id[first]["handler"] == "charge"
    assert by_id[first]["deadline"] is not None
    table = _cli("awakeables", "ls", "--admin-url", server.admin_url)
    assert first[:12] in table  # the people's view shows the ids too

    payload = json.dumps({"approved": True, "reviewer": "cli"})
    out = _cli("awakeables", "resolve", first, payload, "--url", server.url)
    assert "Accepted" in out
    assert approved.result(timeout=15).json()["approved_by"] == "cli"

    _cli("awakeables", "reject", second, "not today", "--url", server.url)
    response = declined.result(timeout=15)
    assert response.status_code == 500 and response.json()["message"] == "not today"
    remaining = json.loads(_cli("awakeables", "ls", "--json", "--admin-url", server.admin_url))
    assert not {first, second} & {row["id"] for row in remaining}


def test_a_second_process_on_the_same_sqlite_file_is_refused(payments: Payments) -> None:
    """Two engines on one SQLite file would both recover and run the same invocations: the second
    `awaken serve` (or `awaken migrate`) exits with a clear message; the first keeps serving."""
    server = payments.server
    db = f"sqlite:///{server.db_path}"
    second = subprocess.run(
        [sys.executable, "-m", "awaken.cli.main", "serve", "examples.payments:app", "--db", db,
         "--port", "0", "--admin-port", "0"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert second.returncode == 3, second.stderr
    assert "in use by another awaken process" in second.stderr
    migrate = subprocess.run(
        [sys.executable, "-m", "awaken.cli.main", "migrate", "--db", db],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert migrate.returncode == 1 and "in use by another awaken process" in migrate.stderr
    assert server.post("/accounts/zoe/balance").status_code == 200

    server.crash()  # kill -9: the lock goes with the process
    assert _cli("migrate", "--db", db).startswith("schema of")


def test_the_app_runs_under_plain_uvicorn(tmp_path: Path) -> None:
    """`app` is a plain ASGI application: the engine starts with the lifespan of any ASGI server
    (here `uvicorn examples.payments:app`, settings from the environment)."""
    from tests.e2e.conftest import free_port

    port = free_port()
    outbox = tmp_path / "approvals.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWAKEN_")}
    env.update(AWAKEN_DB=f"sqlite:///{tmp_path / 'uv.db'}", PAYMENTS_OUTBOX=str(outbox), PYTHONUNBUFFERED="1")
    log = open(tmp_path / "uvicorn.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.payments:app", "--port", str(port)],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/restate/health", timeout=1.0).status_code == 200
            except httpx.TransportError:
                return False

        eventually(healthy, what="uvicorn serving the app")
        with ThreadPoolExecutor(max_workers=1) as pool:
            charge = pool.submit(
                httpx.post,
                f"{url}/payments/charge",
                json={"order_id": "u-1", "amount_cents": 5},
                timeout=15.0,
            )
            tasks = eventually(
                lambda: outbox.exists() and outbox.read_text(encoding="utf-8"), what="the task"
            )
            approval_id = json.loads(str(tasks).splitlines()[0])["awakeable_id"]
            answer = httpx.post(
                f"{url}/restate/awakeables/{approval_id}/resolve", json={"approved": True, "reviewer": "uv"}
            )
            assert answer.status_code == 202, answer.text
            response = charge.result(timeout=15)
        assert response.status_code == 200, response.text
        assert response.json() == {"order_id": "u-1", "receipt": "rcpt-u-1", "approved_by": "uv"}
    finally:
        proc.terminate()
        try:
            # uvicorn stops gracefully, then exits by the signal it got
            assert proc.wait(timeout=10) in (0, -signal.SIGTERM)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
    assert "Application shutdown complete" in (tmp_path / "uvicorn.log").read_text(encoding="utf-8")


def test_cli_lists_cancels_kills_and_purges_invocations(payments: Payments) -> None:
    server = payments.server
    cancelled = payments.call("/payments/charge", {"order_id": "x-1", "amount_cents": 1})
    killed = payments.call("/payments/charge", {"order_id": "x-2", "amount_cents": 2})
    approvals = {subject: payments.approval_id("charge", subject) for subject in ("x-1", "x-2")}
    pending = server.pending_awakeables()
    waiting = {subject: pending[approval] for subject, approval in approvals.items()}
    admin = ["--admin-url", server.admin_url]
    listed = json.loads(_cli("invocations", "ls", "--json", *admin))
    assert set(waiting.values()) <= {row["id"] for row in listed}
    described = json.loads(_cli("invocations", "describe", waiting["x-1"], "--json", *admin))
    assert described["target"] == "payments/charge" and described["journal"]

    assert _cli("invocations", "cancel", waiting["x-1"], *admin).strip() == "cancel requested"
    response = cancelled.result(timeout=15)
    assert response.status_code == 409 and response.json()["message"] == "cancelled"
    assert _cli("invocations", "kill", waiting["x-2"], *admin).strip() == "killed"
    response = killed.result(timeout=15)
    assert response.status_code == 409 and response.json()["message"] == "killed"

    assert _cli("invocations", "purge", waiting["x-1"], *admin).strip() == "purged"
    failed = subprocess.run(
        [sys.executable, "-m", "awaken.cli.main", "invocations", "purge", waiting["x-1"], *admin],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert failed.returncode == 1 and "404" in failed.stderr


def test_cli_reads_and_sets_object_state(payments: Payments) -> None:
    server = payments.server
    admin = ["--admin-url", server.admin_url]
    assert server.post("/accounts/bob/deposit", 30).json() == 30
    assert json.loads(_cli("state", "get", "accounts", "bob", "--json", *admin)) == {"balance": 30}
    assert "balance" in _cli("state", "get", "accounts", "bob", *admin)
    assert (
        _cli("state", "set", "accounts", "bob", "balance", "100", *admin).strip()
        == "accounts/bob: balance set"
    )
    assert server.post("/accounts/bob/balance").json() == 100
    bad = subprocess.run(
        [sys.executable, "-m", "awaken.cli.main", "state", "set", "accounts", "bob", "balance", "{x", *admin],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert bad.returncode == 2 and "VALUE must be JSON" in bad.stderr  # bad input: exit code 2
    assert server.post("/accounts/bob/balance").json() == 100
