"""The `awaken` CLI as a user runs it (real processes): every command against a stopped server and
against bad input ends with one line and a documented exit code, never a traceback; against a
running server its views and bulk actions do what they say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click
import httpx
import pytest

from awaken.cli.main import main as cli_main
from tests.e2e.conftest import E2E_DIR, Server, eventually, free_port

pytestmark = pytest.mark.e2e

FAKE_ID = "inv_1" + "0" * 33
FAKE_AWAKEABLE = "sign_1" + "A" * 38


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWAKEN_")}
    clean.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "awaken", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean,
        cwd=cwd or E2E_DIR,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in done.stderr + done.stdout, f"awaken {' '.join(args)}:\n{done.stderr}"
    return done


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    done = run_cli(*args, env=env)
    assert done.returncode == 0, f"awaken {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    return done.stdout


def leaf_commands(group: click.Group = cli_main, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out |= leaf_commands(command, (*prefix, name))
        else:
            out.add((*prefix, name))
    return out


# Each command that talks to a server, with arguments that would work if one ran.
AGAINST_A_SERVER: dict[tuple[str, ...], list[str]] = {
    ("invocations", "ls"): [],
    ("invocations", "describe"): [FAKE_ID],
    ("invocations", "cancel"): ["shop/wait", "--yes"],
    ("invocations", "kill"): [FAKE_ID],
    ("invocations", "purge"): ["shop"],
    ("invocations", "pause"): [FAKE_ID],
    ("invocations", "resume"): [FAKE_ID],
    ("awakeables", "ls"): [],
    ("awakeables", "resolve"): [FAKE_AWAKEABLE, '{"approved": true}'],
    ("awakeables", "reject"): [FAKE_AWAKEABLE, "no"],
    ("deployments", "register"): ["http://127.0.0.1:9"],
    ("deployments", "ls"): [],
    ("deployments", "describe"): ["dp_1" + "0" * 22],
    ("deployments", "rm"): ["dp_1" + "0" * 22],
    ("state", "get"): ["cart", "a"],
    ("state", "set"): ["cart", "a", "items", "[]"],
}
# The two that do not need a server, with input they must refuse.
LOCAL = {("serve",), ("migrate",)}


def test_the_cases_cover_every_command() -> None:
    assert set(AGAINST_A_SERVER) | LOCAL == leaf_commands()


def test_every_command_against_a_stopped_server() -> None:
    port = free_port()  # nothing listens there
    url = f"http://127.0.0.1:{port}"
    env = {"AWAKEN_ADMIN_URL": url, "AWAKEN_INGRESS_URL": url}
    cases = [(*command, *args) for command, args in AGAINST_A_SERVER.items()]
    cases += [(*c, "--json") for c in cases[:3]]  # the same with --json
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda args: (args, run_cli(*args, env=env)), cases))
    for args, done in results:
        assert done.returncode == 4, f"awaken {' '.join(args)}: {done.returncode}\n{done.stderr}"
        assert f"is awaken serve running at {url}?" in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # one line, no noise


BAD_INPUT: list[tuple[list[str], int, str]] = [
    # (arguments, exit code, what stderr says)
    (["awakeables", "resolve", FAKE_AWAKEABLE, "{not json"], 2, "PAYLOAD must be JSON"),
    (["state", "set", "cart", "a", "items", "[1,"], 2, "VALUE must be JSON"),
    (["invocations", "ls", "--status", "sleeping"], 2, "unknown status 'sleeping'"),
    (["invocations", "ls", "--newer-than", "5 parsecs"], 2, "--newer-than"),
    (["invocations", "ls", "--limit", "0"], 2, "--limit"),
    (["invocations", "cancel", "a//b"], 2, "expected an invocation id"),
    (["invocations", "pause", "shop/wait"], 2, "expected an invocation id"),
    (["invocations", "ls", "--admin-url", "localhost:9070"], 2, "expected http://HOST:PORT"),
    (["invocations", "describe", FAKE_ID, "--admin-url", "http://host:port"], 2, "bad URL"),
    (["awakeables", "ls", "--nope"], 2, "No such option"),
    (["deployments", "register", "localhost:9080"], 2, "URI must be an http:// or https:// URL"),
    (["deployments", "register", "http://h:1", "--extra-header", "x"], 2, "NAME:VALUE"),
    (["state", "get", "cart"], 2, "Missing argument"),
    (["--config", "missing.toml", "awakeables", "ls"], 2, "missing.toml does not exist"),
    (["migrate", "--db", "mysql://db"], 2, "expected sqlite:///PATH"),
    (
        ["migrate", "--db", "postgresql://me:secret@127.0.0.1:1/awaken"],
        1,
        "cannot open postgresql://me:***@127.0.0.1:1",
    ),
    (["serve", "no_such_module:app"], 3, "no module named 'no_such_module'"),
    (["serve", "cli_app"], 3, "expected MODULE:APP"),
    (["serve", "cli_app:nothing"], 3, "has no attribute 'nothing'"),
    (["serve", "cli_app:shop"], 3, "is not an ASGI application"),
    (["serve", "cli_app:app", "--port", "eighty"], 2, "'eighty' is not a valid integer"),
    (["serve", "cli_app:app", "--port", "70000"], 2, "setting port"),
    (["serve", "cli_app:app", "--db", "sqlite:"], 2, "expected sqlite:///PATH"),
]


def test_every_command_with_bad_input(tmp_path: Path) -> None:
    env = {"AWAKEN_ADMIN_URL": f"http://127.0.0.1:{free_port()}"}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case: (case, run_cli(*case[0], env=env)), BAD_INPUT))
    for (args, code, text), done in results:
        assert done.returncode == code, f"awaken {' '.join(args)}: {done.returncode}\n{done.stderr}"
        assert text in done.stderr, f"awaken {' '.join(args)}:\n{done.stderr}"
    with_password = next(done for (args, _, _), done in results if "postgresql://me:secret" in " ".join(args))
    assert "secret" not in with_password.stderr  # a database password is never printed
    # a bad value in the environment names its variable
    done = run_cli("awakeables", "ls", env={"AWAKEN_ADMIN_PORT": "ninety"})
    assert done.returncode == 2 and "AWAKEN_ADMIN_PORT" in done.stderr


@pytest.fixture
def shop(make_server: Callable[..., Server]) -> Server:
    return make_server("cli_app:app").start()


def admin(server: Server) -> dict[str, str]:
    return {"AWAKEN_ADMIN_URL": server.admin_url, "AWAKEN_INGRESS_URL": server.url}


def test_server_errors_are_one_line_with_exit_code_1(shop: Server) -> None:
    env = admin(shop)
    cases: list[tuple[list[str], str]] = [
        (["invocations", "describe", FAKE_ID], f"404: invocation '{FAKE_ID}' not found"),
        (["invocations", "describe", "inv_nonsense"], "400: "),
        (["invocations", "cancel", FAKE_ID], "404: "),
        (["invocations", "cancel", "nosuch/thing"], "no service 'nosuch' is registered"),
        (["awakeables", "resolve", FAKE_AWAKEABLE, "1"], "404: "),
        (["awakeables", "reject", "sign_bad", "no"], "400: "),
        (["state", "get", "shop", "k"], "400: service 'shop' has no keys and no state"),
        (["state", "set", "nosuch", "k", "n", "1"], "404: service 'nosuch' not found"),
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case: (case, run_cli(*case[0], env=env)), cases))
    for (args, text), done in results:
        assert done.returncode == 1, f"awaken {' '.join(args)}: {done.returncode}\n{done.stderr}"
        assert text in done.stderr, f"awaken {' '.join(args)}:\n{done.stderr}"

    # A payload that fails the awakeable's type: 400 with the validation errors, line by line.
    waiting = shop.send("/shop/wait", "o-7")
    awakeable_id = eventually(lambda: _awakeable_of(shop, waiting), what="the awakeable")
    done = run_cli("awakeables", "resolve", awakeable_id, '{"approved": "perhaps"}', env=env)
    assert done.returncode == 1 and done.stderr.startswith("Error: 400: ")
    assert "approved" in done.stderr
    # Pointed at something that is not awaken's admin API (here its ingress): said so.
    done = run_cli("awakeables", "ls", env={"AWAKEN_ADMIN_URL": shop.url})
    assert done.returncode == 1 and "404" in done.stderr


def _awakeable_of(server: Server, invocation_id: str) -> str | None:
    for row in server.admin("/awakeables")["awakeables"]:
        if row["invocation_id"] == invocation_id:
            return str(row["id"])
    return None


def _rows(server: Server, *args: str) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in json.loads(ok("invocations", "ls", "--json", *args, env=admin(server)))}


def test_ls_shows_outcome_attempts_and_when_scheduled_rows_run(shop: Server) -> None:
    env = admin(shop)
    assert shop.post("/shop/ok", "ada").status_code == 200
    succeeded = shop.post("/shop/ok", "bob").headers["x-restate-id"]
    failed = shop.post("/shop/refuse").headers["x-restate-id"]
    retried = shop.post("/shop/flaky")
    assert retried.status_code == 200, retried.text
    waiting = shop.send("/shop/wait", "o-1")
    held = shop.send("/cart/a/hold")
    later = shop.client.post(f"{shop.url}/shop/ok/send?delay=1h", json="later").json()["invocationId"]
    eventually(lambda: _awakeable_of(shop, waiting), what="the wait's awakeable")
    eventually(lambda: _awakeable_of(shop, held), what="the hold's awakeable")
    assert ok("invocations", "cancel", waiting, env=env).strip() == "cancel requested"
    assert ok("invocations", "kill", held, env=env).strip() == "killed"
    cancelled = eventually(
        lambda: _rows(shop).get(waiting, {}).get("status") == "completed", what="cancelled"
    )
    assert cancelled

    rows = _rows(shop)
    from awaken.cli.output import attempts, next_run, outcome

    assert outcome(rows[succeeded]) == "succeeded" and attempts(rows[succeeded]) == 1
    assert outcome(rows[failed]) == "failed" and rows[failed]["completion_failure"]["code"] == 400
    flaky = retried.headers["x-restate-id"]
    assert outcome(rows[flaky]) == "succeeded" and attempts(rows[flaky]) == 2
    assert "the first attempt fails" in rows[flaky]["last_failure"]
    assert outcome(rows[waiting]) == "cancelled" and outcome(rows[held]) == "killed"
    assert rows[later]["status"] == "scheduled" and next_run(rows[later]).endswith("Z")

    table = ok("invocations", "ls", env=env)
    by_id = {line.split()[0]: line for line in table.splitlines() if line.startswith("inv_")}
    assert (
        " succeeded " in by_id[succeeded]
        and " failed " in by_id[failed]
        and "400: not today" in by_id[failed]
    )
    assert " cancelled " in by_id[waiting] and " killed " in by_id[held]
    assert "scheduled" in by_id[later] and next_run(rows[later]) in by_id[later]
    assert "canceled" not in table  # awaken's own word is "cancelled"

    # filters: a target, a status, an age
    oks = {r for r in rows if rows[r]["handler"] == "ok"}
    assert {succeeded, later} < oks and set(_rows(shop, "shop/ok")) == oks
    assert set(_rows(shop, "cart/a")) == {held}
    assert set(_rows(shop, "--status", "scheduled")) == {later}
    assert set(_rows(shop, "--service", "shop", "--handler", "refuse")) == {failed}
    assert set(_rows(shop, "--older-than", "1h")) == set()
    assert set(_rows(shop, "--newer-than", "1h")) == set(rows)
    assert len(_rows(shop, "--limit", "2")) == 2


def test_describe_is_a_readable_view_of_the_journal(shop: Server) -> None:
    env = admin(shop)
    waiting = shop.send("/shop/wait", "o-42")
    awakeable_id = eventually(lambda: _awakeable_of(shop, waiting), what="the awakeable")
    eventually(lambda: shop.step_recorded(waiting, "ask"), what="the step recorded")
    view = ok("invocations", "describe", waiting, env=env)
    assert waiting in view and "shop/wait" in view
    assert "status      running" in view or "status      suspended" in view
    assert '"o-42"' in view  # the input
    assert "journal (2 entries)" in view
    assert awakeable_id in view and "Verdict {approved: boolean, reviewer: string}" in view
    assert f'"{awakeable_id}"' in view  # the step's result: the id it returned

    as_json = json.loads(ok("invocations", "describe", waiting, "--json", env=env))
    assert as_json["input"] == "o-42"
    assert [e["kind"] for e in as_json["journal"]] == ["awakeable", "run"]
    assert as_json["journal"][1]["result"] == {"value": awakeable_id}

    listed = json.loads(ok("awakeables", "ls", "--json", env=env))
    mine = next(a for a in listed if a["id"] == awakeable_id)
    assert mine["schema"]["properties"]["approved"]["type"] == "boolean"
    assert "Verdict {approved: boolean" in ok("awakeables", "ls", env=env)

    answer = json.loads(
        ok("awakeables", "resolve", awakeable_id, '{"approved": true, "reviewer": "ada"}', "--json", env=env)
    )
    assert answer == {"status": "Accepted"}
    assert shop.attach(waiting).json() == "o-42: approved by ada"
    done = ok("invocations", "describe", waiting, env=env)
    assert "completed (succeeded)" in done and '"o-42: approved by ada"' in done


def test_cancel_kill_and_purge_a_target(shop: Server) -> None:
    env = admin(shop)
    waits = [shop.send("/shop/wait", f"b-{i}") for i in range(3)]
    for invocation_id in waits:
        eventually(lambda i=invocation_id: _awakeable_of(shop, i), what="the awakeables")
    # Several match and there is no terminal to ask: refused, nothing done.
    done = run_cli("invocations", "cancel", "shop/wait", env=env)
    assert done.returncode == 1 and "3 invocations of shop/wait match; pass --yes" in done.stderr
    assert all(shop.invocation(i)["status"] != "completed" for i in waits)

    results = json.loads(ok("invocations", "cancel", "shop/wait", "--yes", "--json", env=env))
    assert {r["invocation_id"]: r["result"] for r in results} == dict.fromkeys(waits, "cancel requested")
    for invocation_id in waits:
        answer = shop.attach(invocation_id)
        assert answer.status_code == 409 and answer.json()["message"] == "cancelled"

    shop.send("/cart/k1/hold")
    queued = shop.send("/cart/k1/add", "x")  # pending behind the hold
    assert ok("invocations", "kill", "cart/k1", "-y", env=env).strip() == "cart/k1: 2 killed"
    assert shop.attach(queued).status_code == 409

    assert ok("invocations", "cancel", "cart/k1", env=env).strip() == "no invocation of cart/k1 to cancel"
    purged = ok("invocations", "purge", "shop/wait", "--yes", env=env)
    assert purged.strip() == "shop/wait: 3 purged"
    assert set(_rows(shop, "shop/wait")) == set()


def test_the_admin_token_guards_every_request_and_the_cli_sends_it(
    make_server: Callable[..., Server],
) -> None:
    server = make_server("cli_app:app", extra_args=["--admin-token", "s3cret"], admin_token="s3cret").start()
    raw = httpx.get(f"{server.admin_url}/health")
    assert raw.status_code == 401 and "token" in raw.json()["message"]
    assert (
        httpx.get(f"{server.admin_url}/health", headers={"authorization": "Bearer s3cret"}).status_code == 200
    )
    done = run_cli("invocations", "ls", env={"AWAKEN_ADMIN_URL": server.admin_url})
    assert done.returncode == 1 and "401" in done.stderr and "AWAKEN_ADMIN_TOKEN" in done.stderr
    wrong = run_cli("invocations", "ls", "--admin-token", "guess", env={"AWAKEN_ADMIN_URL": server.admin_url})
    assert wrong.returncode == 1 and "401" in wrong.stderr
    assert ok("invocations", "ls", env={"AWAKEN_ADMIN_URL": server.admin_url, "AWAKEN_ADMIN_TOKEN": "s3cret"})
    assert ok("invocations", "ls", "--admin-url", server.admin_url, "--admin-token", "s3cret")


def test_settings_come_from_awaken_toml(shop: Server, tmp_path: Path) -> None:
    (tmp_path / "awaken.toml").write_text(f'admin_url = "{shop.admin_url}"\n', encoding="utf-8")
    done = run_cli("awakeables", "ls", "--json", cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout) == []
    # an environment variable beats the file, a flag beats both
    dead = f"http://127.0.0.1:{free_port()}"
    assert run_cli("awakeables", "ls", cwd=tmp_path, env={"AWAKEN_ADMIN_URL": dead}).returncode == 4
    assert (
        run_cli(
            "awakeables", "ls", "--admin-url", shop.admin_url, cwd=tmp_path, env={"AWAKEN_ADMIN_URL": dead}
        ).returncode
        == 0
    )
    (tmp_path / "awaken.toml").write_text('admin_ulr = "x"\n', encoding="utf-8")
    typo = run_cli("awakeables", "ls", cwd=tmp_path)
    assert typo.returncode == 2 and "unknown setting 'admin_ulr'" in typo.stderr


def test_migrate_prints_the_version_it_reached(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    first = ok("migrate", "--db", db)
    assert first.startswith(f"schema of {db} is at version ") and "applied now: 1," in first
    again = json.loads(ok("migrate", "--json", env={"AWAKEN_DB": db}))  # AWAKEN_DB is read
    assert again["db"] == db and again["applied"] == [] and again["version"] >= 5


def test_python_dash_m_awaken_and_help() -> None:
    assert ok("--version").startswith("awaken, version ")
    assert "Exit codes:" in ok("--help")
    commands = sorted(leaf_commands())
    with ThreadPoolExecutor(max_workers=4) as pool:
        helps = list(pool.map(lambda command: ok(*command, "--help"), commands))
    for command, text in zip(commands, helps, strict=True):
        assert "Usage: awaken " + " ".join(command) in text
        assert "--json" in text, command  # every command has --json (serve's: JSON log lines)
        assert "Example" in text, command
