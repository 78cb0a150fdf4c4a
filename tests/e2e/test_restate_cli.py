"""Restate's own `restate` CLI (npm `@restatedev/restate`, pinned in restate_cli/package-lock.json)
against a real `awaken serve`: it lists services, deployments and invocations, describes them,
reads and clears state, cancels and kills, through awaken's admin API (Restate's shapes, `POST /query`).

With CI=true a missing node or CLI fails these tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from awaken.admin.metadata import LOCAL_DEPLOYMENT_ID
from tests.e2e.conftest import E2E_DIR, Server, eventually

pytestmark = pytest.mark.e2e

CLI_DIR = E2E_DIR / "restate_cli"
CLI = CLI_DIR / "node_modules" / ".bin" / "restate"
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TOKEN = "cli-test-token"


def _missing(what: str) -> None:
    message = f"{what} (needed to run Restate's CLI against awaken)"
    if ON_CI:
        pytest.fail(
            message + ": CI must install it (.ci/run: npm ci in tests/e2e/restate_cli)", pytrace=False
        )
    pytest.skip(message)


class RestateCli:
    """`restate <args>` against `server`, configured by environment only (nothing of the user's)."""

    def __init__(self, server: Server, home: Path, token: str | None = TOKEN) -> None:
        self.server = server
        config_home = home / "restate-cli"
        config_home.mkdir(exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "RESTATE_CLI_CONFIG_HOME": str(config_home),
            "RESTATE_ADMIN_URL": server.admin_url,
            "RESTATE_INGRESS_URL": server.url,
            "NO_COLOR": "1",
            "TERM": "dumb",
        }
        if token is not None:
            self.env["RESTATE_AUTH_TOKEN"] = token

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(CLI), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env,
            stdin=subprocess.DEVNULL,
        )
        if ok:
            assert done.returncode == 0, (
                f"restate {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
            )
        return done


@pytest.fixture
def restate(make_server: Callable[..., Server], tmp_path: Path) -> RestateCli:
    """Restate's CLI and a started `awaken serve cli_app:app` that wants an admin token."""
    if shutil.which("node") is None:
        _missing("node is not installed")
    if not CLI.exists():
        _missing(f"{CLI.relative_to(E2E_DIR)} is missing: run `npm ci` in {CLI_DIR.name}")
    server = make_server("cli_app:app", extra_args=["--admin-token", TOKEN], admin_token=TOKEN).start()
    return RestateCli(server, tmp_path)


def test_the_restate_cli_reads_and_acts_on_awaken(restate: RestateCli) -> None:
    server = restate.server
    assert server.post("/cart/k1/add", "apple").json() == ["apple"]
    done = server.post("/shop/ok", "bob")
    assert done.json() == "hello bob"
    completed = done.headers["x-restate-id"]
    holder = server.send("/cart/k2/hold")
    eventually(lambda: server.invocation(holder)["status"] in ("running", "suspended"), what="the key held")
    queued = server.send("/cart/k2/add", "pear")
    waiting = server.send("/shop/wait", "o1")
    eventually(lambda: server.step_recorded(waiting, "ask"), what="the awakeable handed out")
    assert server.invocation(queued)["status"] == "pending"

    # the admin API's version is checked, with no warning
    listed = restate("services", "list")
    assert "Could not verify" not in listed.stdout + listed.stderr
    assert "shop" in listed.stdout and "cart" in listed.stdout and "virtual object" in listed.stdout
    assert LOCAL_DEPLOYMENT_ID in listed.stdout

    described = restate("services", "describe", "cart").stdout
    assert "VirtualObject" in described and "awaken://local" in described
    assert "hold" in described and "JSON array" in described  # add's output

    deployments = restate("deployments", "list").stdout
    assert LOCAL_DEPLOYMENT_ID in deployments and "- shop" in deployments

    active = restate("invocations", "list")
    for invocation_id in (holder, queued, waiting):
        assert invocation_id in active.stdout
    assert completed not in active.stdout  # completed ones are hidden unless --all
    assert "Showing 3/3 invocations" in active.stderr  # the count comes as an Arrow stream
    everything = restate("invocations", "list", "--all")
    assert completed in everything.stdout and "Showing 5/5 invocations" in everything.stderr

    about = restate("invocations", "describe", holder).stdout
    assert "cart/k2/hold" in about and "Awakeable" in about and "[PENDING]" in about
    about_queued = restate("invocations", "describe", queued).stdout
    assert "cart/k2/add" in about_queued and "pending" in about_queued

    state = restate("state", "get", "cart", "k1").stdout
    assert "items" in state and '"apple"' in state
    restate("state", "clear", "--yes", "cart/k1")  # through POST /services/cart/state
    assert server.admin("/services/cart/state/k1")["state"] == {}
    assert "apple" not in restate("state", "get", "cart", "k1").stdout

    cancelled = restate("invocations", "cancel", "--yes", waiting)
    assert "Cancelled 1 invocations" in cancelled.stdout
    record = eventually(
        lambda: (r := server.invocation(waiting))["status"] == "completed" and r, what="the cancellation"
    )
    assert record["completion_failure"]["code"] == 409

    killed = restate("invocations", "cancel", "--kill", "--yes", holder)
    assert "Killed 1 invocations" in killed.stdout
    assert server.invocation(holder)["completion_failure"]["code"] == 409
    # the key is free: the queued invocation runs, and its state shows
    eventually(lambda: server.invocation(queued)["status"] == "completed", what="the queued add")
    assert '"pear"' in restate("state", "get", "cart", "k2").stdout

    nothing = restate("invocations", "cancel", "--yes", completed, ok=False)
    assert nothing.returncode != 0 and "No invocations found" in nothing.stderr
    assert "Showing 0/0 invocations" in restate("invocations", "list").stderr


def test_the_restate_cli_needs_the_admin_token(restate: RestateCli, tmp_path: Path) -> None:
    without = RestateCli(restate.server, tmp_path, token=None)
    refused = without("services", "list", ok=False)
    # every admin route (its /version and /health too) answers 401 without the token
    assert refused.returncode != 0 and "Unable to connect" in refused.stderr
    wrong = RestateCli(restate.server, tmp_path, token="not-the-token")
    assert wrong("invocations", "list", ok=False).returncode != 0
    assert "cart" in restate("services", "list").stdout  # with it, the same command works
