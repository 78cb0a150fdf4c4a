"""SPEC §5 with real processes: several `awaken serve` nodes on one PostgreSQL database. Any node
answers any request; a node SIGKILLed has its invocations taken over; a node frozen past its lease
cannot write for what it lost; PostgreSQL restarted under load loses nothing acknowledged.

Side effects are counted in fsynced files (crash_app.py), as in test_crash.py.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests import pg
from tests.e2e.conftest import Effects, Server, eventually
from tests.e2e.crash_app import CHAIN_STEPS
from tests.e2e.pgcluster import PgCluster

pytestmark = pytest.mark.e2e

LEASE_S = 1.0  # short leases: take-overs within the test's patience


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"awaken_e2e_{os.getpid()}_{request.node.name[:30].lower().replace('[', '_').replace(']', '')}"
    yield pg.fresh_database(name)
    pg.drop_database(name)


NodeFactory = Callable[..., list[Server]]


@pytest.fixture
def nodes(make_server: Callable[..., Server], effects: Effects) -> NodeFactory:
    """Start `n` nodes of crash_app on the database `db`."""

    def start(db: str, n: int = 3, extra: list[str] | None = None) -> list[Server]:
        env = {"E2E_EFFECTS_DIR": str(effects.directory)}
        args = ["--lease", str(LEASE_S), *(extra or [])]
        servers = [make_server("crash_app:app", env=env, db=db, extra_args=args) for _ in range(n)]
        for server in servers:
            server.start()
        return servers

    return start


def test_any_node_answers_any_request(nodes: NodeFactory, database: str, effects: Effects) -> None:
    a, b, c = nodes(database)
    # An invocation started on a, waiting in memory on a; resolved through b; its output read on c.
    invocation_id = a.send("/flow/approve", "t1")
    awakeable_id = eventually(lambda: effects.values("hand_out", "t1"), what="hand-out")[0]
    started = time.monotonic()
    assert b.resolve(awakeable_id, "yes").status_code == 202
    result = c.attach(invocation_id)
    latency = time.monotonic() - started
    assert result.status_code == 200 and result.json()["got"] == "yes"
    # The attempt on a got it by notice: well before a would have suspended (1 s) or polled.
    assert latency < 0.8, f"resolve -> output took {latency:.3f} s"
    assert effects.count("step_a", "t1") == 1 and effects.count("step_b", "t1") == 1

    # A call on b for an invocation that suspends (always-replay style) and is woken via c.
    with httpx.Client(timeout=15) as http:
        holder: dict[str, httpx.Response] = {}
        thread = threading.Thread(
            target=lambda: holder.setdefault("r", http.post(f"{b.url}/flow/approve", json="t2"))
        )
        thread.start()
        awakeable_id = eventually(lambda: effects.values("hand_out", "t2"), what="hand-out")[0]
        assert c.resolve(awakeable_id, "ok").status_code == 202
        thread.join(timeout=15)
    assert holder["r"].status_code == 200 and holder["r"].json()["got"] == "ok"

    # A cancel through c reaches the attempt wherever it runs; it compensates, then fails.
    invocation_id = a.send("/flow/compensating", "t3")
    eventually(lambda: effects.values("c_hand_out", "t3"), what="hand-out")
    response = c.client.patch(f"{c.admin_url}/invocations/{invocation_id}/cancel")
    assert response.status_code in (200, 202), response.text
    eventually(lambda: effects.count("comp_started", "t3") == 1, what="compensation started")
    effects.release("comp-t3")
    cancelled = b.attach(invocation_id)
    assert cancelled.status_code == 409 and "compensated" in cancelled.json()["message"]

    # A key lock holds across nodes: an exclusive call through b queues behind one held on a.
    hold_id = a.send("/lock/k/hold", "first")
    awakeable_id = eventually(lambda: effects.values("lock_hand_out", "k/first"), what="hand-out")[0]
    append_id = b.send("/lock/k/append", "second")
    eventually(lambda: c.invocation(append_id)["status"] == "pending", what="append queued")
    assert effects.count("lock_append", "k/second") == 0
    assert c.resolve(awakeable_id, "go").status_code == 202
    assert a.attach(hold_id).json() == ["first:go"]
    assert c.attach(append_id).json() == ["first:go", "second"]

    # A durable timer fires once, though every node fires timers.
    naps = [
        nodes_send(n, "/flow/nap", {"tag": f"nap{i}", "seconds": 0.3}) for i, n in enumerate([a, b, c] * 3)
    ]
    for i, invocation_id in enumerate(naps):
        assert c.attach(invocation_id).status_code == 200
        assert effects.count("nap_after", f"nap{i}") == 1


def nodes_send(server: Server, path: str, body: object) -> str:
    return server.send(path, body)


class Load:
    """Clients sending `flow/chain` invocations to the given nodes as fast as they can."""

    def __init__(self, servers: list[Server], clients: int = 12) -> None:
        self.servers = servers
        self.accepted: dict[str, str] = {}
        self.refused: list[int] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(n,)) for n in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _client(self, n: int) -> None:
        with httpx.Client(timeout=5.0) as http:
            i = 0
            while not self._stop.is_set():
                server = self.servers[(n + i) % len(self.servers)]
                tag = f"L{n}-{i}"
                i += 1
                try:
                    response = http.post(f"{server.url}/flow/chain/send", json=tag)
                except httpx.TransportError:
                    time.sleep(0.01)  # a node that was killed: the others go on
                    continue
                with self._lock:
                    if response.status_code == 202:
                        self.accepted[tag] = str(response.json()["invocationId"])
                    else:
                        self.refused.append(response.status_code)

    def count(self) -> int:
        with self._lock:
            return len(self.accepted)


def check_exactly_recorded(
    effects: Effects, server: Server, accepted: dict[str, str], timeout: float
) -> None:
    """Every acknowledged chain completes with the values its steps recorded; each step ran once
    or, if it was in flight at a kill, twice."""
    for tag, invocation_id in accepted.items():
        response = server.attach(invocation_id, timeout=timeout)
        assert response.status_code == 200, response.text
        results = response.json()
        assert len(results) == CHAIN_STEPS
        for i, value in enumerate(results):
            runs = effects.values(f"chain{i}", tag)
            assert 1 <= len(runs) <= 2, f"{tag} step {i} ran {len(runs)} times"
            assert value in runs


def test_a_killed_node_is_taken_over(nodes: NodeFactory, database: str, effects: Effects) -> None:
    a, b, c = nodes(database)
    with Load([a, b, c]) as load:
        eventually(lambda: load.count() >= 150, timeout=30, interval=0.01, what="150 chains accepted")
        a.crash()
        killed_at = time.monotonic()
        before = load.count()
        eventually(lambda: load.count() >= before + 100, timeout=30, interval=0.01, what="load goes on")
    assert set(load.refused) <= {503}, load.refused  # a node may be between answers at the kill
    # Everything a had accepted or was running completes on b and c once its leases expire.
    check_exactly_recorded(effects, b, load.accepted, timeout=30)
    took = time.monotonic() - killed_at
    assert took < 30
    taken = b.metric("awaken_taken_over_total") + c.metric("awaken_taken_over_total")
    assert taken > 0, "no invocation of the killed node was taken over"


def test_a_frozen_node_cannot_write_what_it_lost(nodes: NodeFactory, database: str, effects: Effects) -> None:
    a, b = nodes(database, 2)
    tags = [f"f{i}" for i in range(5)]
    ids = {tag: a.send("/flow/slow_async_step", tag) for tag in tags}
    eventually(lambda: all(effects.count("slow_started", t) == 1 for t in tags), what="steps running on a")
    a.freeze()
    try:
        # Past a's lease, b takes the invocations over and runs the slow step again.
        eventually(
            lambda: all(effects.count("slow_started", t) == 2 for t in tags),
            timeout=15,
            what="taken over by b",
        )
        for tag in tags:
            effects.release(tag)
        results = {tag: b.attach(ids[tag]).json() for tag in tags}
    finally:
        a.thaw()
    # a wakes up, finishes its copy of the slow step, and is fenced: its result is never recorded.
    eventually(
        lambda: all(effects.count("slow_done", t) == 2 for t in tags), timeout=15, what="a ran its copies"
    )
    eventually(
        lambda: a.metric("awaken_attempts_lost_total") >= len(tags), timeout=10, what="a stopped its copies"
    )
    for tag in tags:
        assert effects.count("before", tag) == 1  # recorded before the freeze: never again
        assert effects.count("after", tag) == 1  # only b ran past the slow step
        slow = effects.values("slow_done", tag)
        assert results[tag]["slow"] in slow
        again = b.client.get(f"{b.url}/restate/invocation/{ids[tag]}/output").json()
        assert again == results[tag]  # what a did after waking changed nothing
        journal = b.invocation(ids[tag])["journal"]
        assert [e["name"] for e in journal if e["kind"] == "run"] == ["before", "slow", "after"]


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    own = PgCluster()
    own.start()
    try:
        yield own
    finally:
        own.destroy()


def test_postgres_restarted_under_load(nodes: NodeFactory, cluster: PgCluster, effects: Effects) -> None:
    a, b = nodes(cluster.url, 2)
    with Load([a, b], clients=8) as load:
        eventually(lambda: load.count() >= 100, timeout=30, interval=0.01, what="100 chains accepted")
        cluster.stop()
        # While it is down, requests that need it get 503, quickly.
        began = time.monotonic()
        response = a.client.post(f"{a.url}/flow/chain/send", json="during-outage", timeout=10)
        assert response.status_code == 503, response.text
        assert time.monotonic() - began < 6
        assert response.json()["source"] == "ingress"
        time.sleep(1.0)
        cluster.start()
        before = load.count()
        eventually(
            lambda: load.count() >= before + 100, timeout=30, interval=0.01, what="load after the restart"
        )
    assert set(load.refused) <= {503}
    check_exactly_recorded(effects, a, load.accepted, timeout=40)
