"""`kill -9` of the real `awaken serve` while remote invocations are suspended on awakeables and
while a remote `ctx.run` is in flight (SPEC §8, issue point 8): after the restart everything
resumes, and a run whose completion awaken had stored is not executed again.

The deployment is registered with the CLI (`awaken deployments register`), as a user would, and
the awakeables are resolved with it after the restart.

The same with two nodes on one PostgreSQL database (SPEC §5): the node that runs the remote
invocations is killed and not restarted, and the other takes them over once their leases expire;
or it is frozen (SIGSTOP) past its leases, and once thawed it cannot record what the SDK did for
the attempts it lost."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from awaken.admin.metadata import LOCAL_DEPLOYMENT_ID
from tests import pg
from tests.e2e.conftest import Server, eventually
from tests.protocol.conftest import SDK_ENDPOINTS
from tests.protocol.rig import ENDPOINTS, REPO_ROOT, Endpoint, start_endpoint, stop_endpoint


def cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "awaken", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"awaken {' '.join(args)}: {done.returncode}\n{done.stderr}"
    return done.stdout


def effect_count(directory: Path, name: str, tag: str) -> int:
    path = directory / name
    return path.read_text().split().count(tag) if path.exists() else 0


@pytest.fixture(params=SDK_ENDPOINTS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, Endpoint, Path]]:
    effects = tmp_path / "effects"
    effects.mkdir()
    ep = start_endpoint(ENDPOINTS[request.param], env={"ENDPOINT_EFFECTS_DIR": str(effects)})
    server = Server(
        "tests.protocol.local_app:app",
        tmp_path,
        cwd=REPO_ROOT,
        env={"AWAKEN_INACTIVITY_TIMEOUT": "0.3"},  # bidirectional streams suspend soon
    )
    try:
        yield server.start(), ep, effects
    except BaseException:
        print(server.log_text())
        print(ep.log_tail())
        raise
    finally:
        server.close()
        stop_endpoint(ep)


def _awakeable_of(server: Server, invocation_id: str) -> str:
    def found() -> str | None:
        for entry in server.invocation(invocation_id)["journal"]:
            if entry["type"] == "Run" and entry["kind"] == "notification" and entry["result"]:
                return str(entry["result"]["value"]["awakeableId"])
        return None

    return eventually(found, timeout=20, what=f"the awakeable of {invocation_id}")


def test_kill_9_while_remote_invocations_wait_and_a_run_is_in_flight(
    stack: tuple[Server, Endpoint, Path],
) -> None:
    server, ep, effects = stack
    registered = cli("deployments", "register", ep.url, "--admin-url", server.admin_url, "--json")
    deployment_id = json.loads(registered)["id"]
    listed = json.loads(cli("deployments", "ls", "--admin-url", server.admin_url, "--json"))
    # the registered one, and the app's own services as one deployment
    assert [(d["id"], d["uri"]) for d in listed] == [
        (deployment_id, ep.url),
        (LOCAL_DEPLOYMENT_ID, "awaken://local"),
    ]

    waiting = {server.send("/Reviews/review", f"r{i}"): i for i in range(5)}
    awakeables = {invocation_id: _awakeable_of(server, invocation_id) for invocation_id in waiting}
    for invocation_id in waiting:
        eventually(lambda i=invocation_id: server.invocation(i)["status"] == "suspended", timeout=20)
    in_flight = server.send("/Durable/steps", "t1")
    eventually(lambda: effect_count(effects, "second", "t1") == 1, timeout=20, what="the second run")
    journal = server.invocation(in_flight)["journal"]
    assert [e["type"] for e in journal if e["kind"] == "notification"] == ["Run"]  # the first run's

    server.restart()  # kill -9, then start again on the same database

    for invocation_id, awakeable_id in awakeables.items():
        out = cli(
            "awakeables",
            "resolve",
            awakeable_id,
            json.dumps(f"ok{waiting[invocation_id]}"),
            "--url",
            server.url,
        )
        assert out.strip() == "Accepted"
    all_answered(server, effects, waiting, in_flight)
    assert effect_count(effects, "second", "t1") >= 2  # in flight at the kill: runs again


def all_answered(server: Server, effects: Path, waiting: dict[str, int], in_flight: str) -> None:
    """Once the run in flight is released, `server` answers every invocation rightly; the run
    stored before the kill ran once; no awakeable is left pending."""
    (effects / "release.t1").write_text("go")
    for invocation_id, i in waiting.items():
        r = server.attach(invocation_id, timeout=30)
        assert r.status_code == 200 and r.json() == f"r{i}: ok{i}", r.text
    r = server.attach(in_flight, timeout=30)
    assert r.status_code == 200 and r.json() == 3, r.text
    assert effect_count(effects, "first", "t1") == 1  # stored before the kill: not run again
    assert server.pending_awakeables() == {}


LEASE_S = 1.0


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"awaken_rcrash_{os.getpid()}_{request.node.callspec.id.replace('-', '_')}"
    yield pg.fresh_database(name)
    pg.drop_database(name)


@contextlib.contextmanager
def two_nodes(
    name: str, tmp_path: Path, database: str, env: dict[str, str] | None = None
) -> Iterator[tuple[Server, Server, Path]]:
    """Nodes a and b of local_app on `database`, and the SDK endpoint `name` registered on a (b
    serving it too); the directory where the endpoint counts its side effects."""
    effects = tmp_path / "effects"
    effects.mkdir()
    ep = start_endpoint(ENDPOINTS[name], env={"ENDPOINT_EFFECTS_DIR": str(effects)})
    for node in "ab":
        (tmp_path / node).mkdir()
    args = ["--lease", str(LEASE_S)]
    app = "tests.protocol.local_app:app"
    a, b = (Server(app, tmp_path / n, cwd=REPO_ROOT, db=database, extra_args=args, env=env) for n in "ab")
    try:
        a.start()
        b.start()
        cli("deployments", "register", ep.url, "--admin-url", a.admin_url, "--json")
        eventually(
            lambda: b.client.get(f"{b.admin_url}/services/Durable").status_code == 200,
            what="b serving the deployment registered on a",
        )
        yield a, b, effects
    except BaseException:
        print(a.log_text())
        print(b.log_text())
        print(ep.log_tail())
        raise
    finally:
        a.close()
        b.close()
        stop_endpoint(ep)


@pytest.mark.parametrize("name", SDK_ENDPOINTS)
def test_kill_9_of_a_node_hands_its_remote_invocations_to_another(
    name: str, tmp_path: Path, database: str
) -> None:
    env = {"AWAKEN_INACTIVITY_TIMEOUT": "0.3"}  # bidirectional streams suspend soon
    with two_nodes(name, tmp_path, database, env) as (a, b, effects):
        waiting = {a.send("/Reviews/review", f"r{i}"): i for i in range(3)}
        awakeables = {invocation_id: _awakeable_of(a, invocation_id) for invocation_id in waiting}
        in_flight = a.send("/Durable/steps", "t1")
        eventually(lambda: effect_count(effects, "second", "t1") == 1, timeout=20, what="the second run")

        a.crash()  # and it stays down: b must take over what a ran
        killed_at = time.monotonic()

        for invocation_id, awakeable_id in awakeables.items():
            resolved = b.resolve(awakeable_id, f"ok{waiting[invocation_id]}")
            assert resolved.status_code == 202, resolved.text
        # a's lease on the run in flight expires: b starts it again, and its second run with it
        eventually(
            lambda: effect_count(effects, "second", "t1") == 2, timeout=LEASE_S + 10, what="taken over"
        )
        assert time.monotonic() - killed_at < LEASE_S + 10
        all_answered(b, effects, waiting, in_flight)
        assert effect_count(effects, "second", "t1") == 2  # a's copy and b's
        journal = b.invocation(in_flight)["journal"]
        # each run's completion recorded once: the one a stored, and b's of the second
        assert [e["type"] for e in journal if e["kind"] == "notification"] == ["Run", "Run"]


@pytest.mark.parametrize("name", ["ts-h2", "py-uvicorn"])  # bidirectional; request/response
def test_a_node_frozen_past_its_lease_cannot_write_for_the_remote_attempt_it_lost(
    name: str, tmp_path: Path, database: str
) -> None:
    with two_nodes(name, tmp_path, database) as (a, b, effects):
        tags = ["f1", "f2"]
        ids = {tag: a.send("/Durable/steps", tag) for tag in tags}
        for tag in tags:
            eventually(lambda t=tag: effect_count(effects, "second", t) == 1, timeout=20, what="a's runs")
        a.freeze()
        try:
            # Past a's lease, b takes the invocations over: the second run starts again there.
            for tag in tags:
                eventually(
                    lambda t=tag: effect_count(effects, "second", t) == 2,
                    timeout=LEASE_S + 10,
                    what="taken over by b",
                )
            for tag in tags:
                (effects / f"release.{tag}").write_text("go")
            results = {tag: b.attach(ids[tag], timeout=30) for tag in tags}
        finally:
            a.thaw()
        # a wakes up: the SDK finished its copies of the run meanwhile, and a's attempts are
        # fenced when they try to record them.
        lost = "awaken_attempts_lost_total"
        eventually(lambda: a.metric(lost) >= len(tags), timeout=15, what="a's attempts ended as lost")
        for tag in tags:
            assert results[tag].status_code == 200 and results[tag].json() == 3, results[tag].text
            assert effect_count(effects, "first", tag) == 1  # stored before the freeze
            again = b.client.get(f"{b.url}/restate/invocation/{ids[tag]}/output")
            assert again.json() == 3  # what a did after waking changed nothing
            journal = b.invocation(ids[tag])["journal"]
            assert [e["type"] for e in journal if e["kind"] == "notification"] == ["Run", "Run"]
