"""The PostgreSQL dialect's own behaviour: migrations (structure, several nodes at once, a missing
database, --no-migrate), and its writer when a connection breaks mid-batch."""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from awaken.core.journal import Entry, EntryKind, Outcome
from awaken.errors import StorageError
from awaken.storage.postgres import PostgresStore
from awaken.storage.postgres.migrate import latest_version
from awaken.storage.sql import load_schema
from tests import pg
from tests.contract.conftest import StoreFactory
from tests.contract.support import new_inv, started, step


async def _shape(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        columns = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable, column_default"
            " FROM information_schema.columns WHERE table_schema = 'public'"
            " ORDER BY table_name, ordinal_position"
        )
        indexes = await conn.fetch(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            " ORDER BY indexname"
        )
        sequences = await conn.fetch(
            "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public'"
        )
        tables: dict[str, Any] = {}
        for r in columns:
            tables.setdefault(r["table_name"], []).append(tuple(r)[1:])
        return {
            "tables": tables,
            "indexes": {r["indexname"]: (r["tablename"], r["indexdef"]) for r in indexes},
            "sequences": sorted(r[0] for r in sequences),
        }
    finally:
        await conn.close()


@pytest.fixture
def scratch() -> Any:
    """Fresh databases made (and dropped) by the test."""
    made: list[str] = []

    def make(suffix: str) -> str:
        name = f"awaken_scratch_{os.getpid()}_{suffix}"
        made.append(name)
        return pg.fresh_database(name)

    yield make
    for name in made:
        pg.drop_database(name)


async def test_migrations_yield_schema_sql(scratch: Any) -> None:
    migrated, fresh = scratch("migrated"), scratch("fresh")
    store = PostgresStore(migrated)
    await store.open()
    assert store.version == latest_version()
    await store.close()
    conn = await asyncpg.connect(fresh)
    try:
        await conn.execute(load_schema("awaken.storage.postgres"))
    finally:
        await conn.close()
    shape = await _shape(fresh)
    assert await _shape(migrated) == shape
    assert "lease_until" in [c[0] for c in shape["tables"]["invocations"]]
    assert shape["sequences"] == ["inbox_seq"]


async def test_nodes_starting_together_migrate_once(scratch: Any) -> None:
    url = scratch("together")
    stores = [PostgresStore(url) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        assert {s.version for s in stores} == {latest_version()}
        conn = await asyncpg.connect(url)
        try:
            versions = [
                r[0] for r in await conn.fetch("SELECT version FROM awaken_schema_migrations ORDER BY 1")
            ]
        finally:
            await conn.close()
        assert versions == list(range(1, latest_version() + 1))
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_a_missing_database_is_created(scratch: Any) -> None:
    url = scratch("created")
    pg.drop_database(url.rsplit("/", 1)[1])
    store = PostgresStore(url)
    await store.open()
    try:
        assert (await store.create_invocation(new_inv("inv"))).created
    finally:
        await store.close()


async def test_no_migrate_refuses_an_old_schema_and_a_bad_url_fails_clearly(scratch: Any) -> None:
    url = scratch("old")
    with pytest.raises(StorageError, match=r"schema version 0.*awaken migrate"):
        await PostgresStore(url, migrate=False).open()
    with pytest.raises(StorageError, match=r"cannot open postgresql://nobody:\*\*\*@127\.0\.0\.1:1/x"):
        await PostgresStore("postgresql://nobody:secret@127.0.0.1:1/x").open()


async def test_a_broken_connection_fails_its_batch_only(open_store: StoreFactory, pg_url: str) -> None:
    """The write connection is killed from outside while writes are queued: the writes of the
    batch in flight fail with StorageError (none of them applied), later writes go through on a
    new connection."""
    store = await open_store(write_connections=1)
    claims = [await started(store, f"inv-{i}") for i in range(20)]
    admin = await asyncpg.connect(pg_url)
    try:
        backend = await admin.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1", f"awaken-{store.node_id}"
        )
        # Slow the writer down (a lock it must wait for), then kill its backend while it waits.
        await admin.execute("BEGIN")
        await admin.execute("SELECT * FROM invocations WHERE id = 'inv-0' FOR UPDATE")
        writes = [
            asyncio.ensure_future(
                store.commit(step(c, entries=[Entry(0, EntryKind.RUN, outcome=Outcome(b"1"))]))
            )
            for c in claims
        ]
        await asyncio.sleep(0)
        await pg_wait_for_lock(admin)
        await admin.fetchval("SELECT pg_terminate_backend($1)", backend)
        await admin.execute("ROLLBACK")
    finally:
        await admin.close()
    results = await asyncio.gather(*writes, return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    assert failed and all(isinstance(r, StorageError) for r in failed)
    for claim, result in zip(claims, results, strict=True):
        journal = await store.get_journal(claim.record.id)
        assert (journal == []) == isinstance(result, BaseException)  # never half-applied
    again = await store.commit(step(claims[0], entries=[Entry(0, EntryKind.RUN, outcome=Outcome(b"2"))]))
    assert again.effects.empty()
    assert (await store.get_journal("inv-0"))[0].outcome is not None


async def pg_wait_for_lock(admin: asyncpg.Connection) -> None:
    for _ in range(500):
        if await admin.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the writer never waited for the lock")


async def test_a_burst_of_writes_spreads_over_the_write_connections(open_store: StoreFactory) -> None:
    store = await open_store(write_connections=4, max_batch=32)
    results = await asyncio.gather(*(store.create_invocation(new_inv(f"inv-{i:03}")) for i in range(200)))
    assert all(r.created for r in results)
    stats = store.stats()  # type: ignore[attr-defined]
    assert stats["ops_committed"] == 200
    assert 7 <= stats["batches_committed"] <= 20  # shared transactions of at most 32 writes


async def test_writes_that_arrive_while_a_lane_is_busy_wait_for_its_next_batch(
    open_store: StoreFactory, pg_url: str
) -> None:
    """A transaction costs a round trip and a commit: a write that comes while a lane runs a
    batch joins that lane's next batch rather than opening another transaction beside it, unless
    it has waited `linger_s`."""
    for run, linger_s in enumerate((60.0, 0.0)):
        store = await open_store(write_connections=4, linger_s=linger_s)
        claim = await started(store, f"held-{run}")
        admin = await asyncpg.connect(pg_url)
        try:
            await admin.execute("BEGIN")
            await admin.execute("SELECT * FROM invocations WHERE id = $1 FOR UPDATE", f"held-{run}")
            before = store.stats()["batches_committed"]  # type: ignore[attr-defined]
            blocked = asyncio.ensure_future(
                store.commit(step(claim, entries=[Entry(0, EntryKind.RUN, outcome=Outcome(b"1"))]))
            )
            await pg_wait_for_lock(admin)  # a lane is busy with it
            later = []
            for i in range(10):
                later.append(asyncio.ensure_future(store.create_invocation(new_inv(f"later-{run}-{i}"))))
                for _ in range(5):
                    await asyncio.sleep(0)  # one at a time
            if not linger_s:
                await asyncio.gather(*later)  # they went out on other lanes, beside the busy one
            await admin.execute("ROLLBACK")
        finally:
            await admin.close()
        await blocked
        assert all(r.created for r in await asyncio.gather(*later))
        batches = store.stats()["batches_committed"] - before  # type: ignore[attr-defined]
        if linger_s:
            assert batches == 2  # the blocked one, then all ten in the busy lane's next
        else:
            assert batches >= 3
        await store.close()  # type: ignore[attr-defined]


async def _in_transaction(admin: asyncpg.Connection, node_id: str) -> int:
    """The node's connections (its writer's and its listener's) idle in a transaction."""
    count: int = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle in transaction'",
        f"awaken-{node_id}",
    )
    return count


async def test_a_batch_runs_in_the_transaction_the_previous_commit_began(
    open_store: StoreFactory, pg_url: str
) -> None:
    """Writes one after another: each batch's COMMIT begins the next transaction (one round
    trip saved per batch); once writes stop, the lane ends that empty transaction and its
    connection is plainly idle, holding nothing."""
    store = await open_store(write_connections=1, park_s=0.3)
    for i in range(10):
        assert (await store.create_invocation(new_inv(f"inv-{i}"))).created
    stats = store.stats()  # type: ignore[attr-defined]
    assert stats["batches_committed"] == 10 and stats["batches_chained"] >= 9
    admin = await asyncpg.connect(pg_url)
    try:
        assert await _in_transaction(admin, store.node_id) == 1
        held = await admin.fetchval(
            "SELECT bool_and(backend_xid IS NULL AND backend_xmin IS NULL) FROM pg_stat_activity"
            " WHERE application_name = $1",
            f"awaken-{store.node_id}",
        )
        assert held  # no transaction id, no snapshot: vacuum is not held back
        deadline = asyncio.get_running_loop().time() + 10
        while await _in_transaction(admin, store.node_id):
            assert asyncio.get_running_loop().time() < deadline, "the empty transaction stayed open"
            await asyncio.sleep(0.02)
    finally:
        await admin.close()
    assert (await store.create_invocation(new_inv("inv-after"))).created


async def test_a_parked_lane_whose_backend_is_terminated_reconnects(
    open_store: StoreFactory, pg_url: str
) -> None:
    store = await open_store(write_connections=1, park_s=30)
    assert (await store.create_invocation(new_inv("inv-0"))).created
    admin = await asyncpg.connect(pg_url)
    try:
        assert await _in_transaction(admin, store.node_id) == 1
        assert await admin.fetchval(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            f"awaken-{store.node_id}",
        )
    finally:
        await admin.close()
    # The write racing the termination may fail (StorageError, nothing applied); the next ones
    # go through on a new connection.
    outcomes = []
    for i in range(1, 4):
        try:
            outcomes.append((await store.create_invocation(new_inv(f"inv-{i}"))).created)
        except StorageError:
            outcomes.append(False)
            assert await store.get_invocation(f"inv-{i}") is None
    assert outcomes[1:] == [True, True]


class _FarAway:
    """A TCP relay to the test's PostgreSQL that holds every chunk `delay_s` in each direction: a
    database across a network, made in the test (nothing else on the machine is slowed)."""

    def __init__(self, host: str, port: int, delay_s: float) -> None:
        self.target = (host, port)
        self.delay_s = delay_s
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self.target)
        self.writers += [client_w, server_w]
        await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while data := await reader.read(1 << 16):
            loop.call_later(self.delay_s, writer.write, data)  # timers of one delay keep their order
        loop.call_later(self.delay_s, writer.close)

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()


async def test_a_far_database_has_its_writes_spread_over_more_connections(pg_url: str) -> None:
    """Past a round trip of half a millisecond, writes queued for one lane would each wait for
    the whole batch's statements: the writer measures the round trip and spreads them."""
    await pg.empty(pg_url)
    parts = urlsplit(pg_url)
    relay = _FarAway(parts.hostname or "127.0.0.1", parts.port or 5432, 0.002)
    port = await relay.start()
    store = PostgresStore(urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}")))
    try:
        await store.open()
        assert store.stats()["far"] and store.stats()["rtt_ms"] >= 4.0
        results = await asyncio.gather(*(store.create_invocation(new_inv(f"inv-{i:03}")) for i in range(64)))
        assert all(r.created for r in results)
        assert store.stats()["lanes_connected"] > 4  # more than a near database gets
    finally:
        await store.close()
        await relay.close()
    near = PostgresStore(pg_url)
    try:
        await near.open()
        await asyncio.gather(*(near.create_invocation(new_inv(f"near-inv-{i:03}")) for i in range(64)))
        assert not near.stats()["far"] and near.stats()["lanes_connected"] <= 4
    finally:
        await near.close()


async def test_an_early_batch_commits_without_waiting_for_the_flush_and_only_that_batch(pg_url: str) -> None:
    """The end of an early batch's transaction turns off `synchronous_commit` for that commit
    alone: the next batch's transaction (begun in the same query) waits for the flush again."""
    from awaken.storage.postgres.writer import commit_script

    assert "synchronous_commit" not in commit_script(["NOTIFY x"], early=False, chain=True)
    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval("SHOW synchronous_commit") == "on"
        await conn.execute("BEGIN")
        await conn.execute(commit_script([], early=True, chain=True))
        assert conn.is_in_transaction()  # the next batch's
        assert await conn.fetchval("SHOW synchronous_commit") == "on"
        await conn.execute("ROLLBACK")
    finally:
        await conn.close()
