"""The group-commit writer on a real SQLite file: batching, failure isolation, a failed COMMIT, a
locked database, a failed fsync, checkpoints."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from awaken.errors import StorageError
from awaken.storage.protocol import NewInvocation
from awaken.storage.sqlite import SqliteStore
from awaken.storage.sqlite import writer as writer_module
from awaken.storage.sqlite.writer import GroupCommitWriter


def table_connect(db_path: str) -> Callable[[], sqlite3.Connection]:
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER PRIMARY KEY, pad BLOB)")
        return conn

    return connect


async def stopped(writer: GroupCommitWriter) -> None:
    writer.stop()
    await asyncio.to_thread(writer.join)
    writer.close()


@pytest.fixture
async def writer(db_path: str) -> AsyncIterator[GroupCommitWriter]:
    w = GroupCommitWriter(table_connect(db_path), lambda conn: None)
    await w.start()
    try:
        yield w
    finally:
        await stopped(w)


def insert(v: int, pad: bytes = b"") -> Any:
    return lambda conn: conn.execute("INSERT INTO t VALUES (?, ?)", (v, pad)).rowcount


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])


async def test_writer_rolls_back_one_op_and_wraps_sqlite_errors(db_path: str) -> None:
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER PRIMARY KEY)")
        return conn

    writer = GroupCommitWriter(connect, lambda conn: None)
    await writer.start()
    try:

        def insert(v: int) -> Any:
            return lambda conn: conn.execute("INSERT INTO t VALUES (?)", (v,)).rowcount

        def insert_then_fail(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO t VALUES (100)")
            conn.execute("INSERT INTO t VALUES (100)")  # IntegrityError

        futures = [writer.submit(insert(1)), writer.submit(insert_then_fail), writer.submit(insert(2))]
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert results[0] == 1 and results[2] == 1
        assert isinstance(results[1], StorageError)
        assert isinstance(results[1].__cause__, sqlite3.IntegrityError)

        cancelled = writer.submit(insert(3))
        cancelled.cancel()
        assert await writer.submit(
            lambda conn: [r[0] for r in conn.execute("SELECT v FROM t ORDER BY v")]
        ) in (
            [1, 2],
            [1, 2, 3],
        )
    finally:
        writer.stop()
        await asyncio.to_thread(writer.join)
        writer.close()
    with pytest.raises(StorageError):
        writer.submit(insert(4))


async def test_a_failed_commit_fails_the_whole_batch_and_the_writer_goes_on(db_path: str) -> None:
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY)")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS child (id INTEGER PRIMARY KEY, "
            "p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
        )
        return conn

    writer = GroupCommitWriter(connect, lambda conn: None)
    await writer.start()
    try:
        # A deferred foreign key violation makes COMMIT itself fail.
        bad = writer.submit(lambda conn: conn.execute("INSERT INTO child VALUES (1, 99)").rowcount)
        with pytest.raises(StorageError):
            await bad
        assert writer.stats()["batches_failed"] == 1
        ok = await writer.submit(lambda conn: conn.execute("INSERT INTO parent VALUES (1)").rowcount)
        assert ok == 1
        rows = await writer.submit(lambda conn: conn.execute("SELECT count(*) FROM child").fetchone()[0])
        assert rows == 0
    finally:
        writer.stop()
        await asyncio.to_thread(writer.join)
        writer.close()


async def test_writes_of_one_loop_iteration_share_a_transaction_and_a_sync(writer: GroupCommitWriter) -> None:
    results = await asyncio.gather(*(writer.submit(insert(v)) for v in range(50)))
    assert results == [1] * 50
    stats = writer.stats()
    assert stats["ops_committed"] == 50
    assert stats["batches_committed"] == 1 and stats["max_batch_size"] == 50
    assert stats["syncs"] == 1  # durable: one fsync of the WAL acknowledged all 50
    assert await writer.submit(count) == 50


async def test_acknowledged_writes_are_in_the_file(db_path: str, writer: GroupCommitWriter) -> None:
    await asyncio.gather(*(writer.submit(insert(v)) for v in range(10)))
    other = sqlite3.connect(db_path)
    try:
        assert other.execute("SELECT count(*) FROM t").fetchone()[0] == 10
    finally:
        other.close()


async def test_a_locked_database_does_not_block_the_loop(db_path: str, writer: GroupCommitWriter) -> None:
    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another connection holds the write lock
    try:
        pending = writer.submit(insert(1))
        ticks = 0
        for _ in range(20):  # the loop keeps running while the write waits for the lock
            await asyncio.sleep(0.001)
            ticks += 1
        assert ticks == 20 and not pending.done()
    finally:
        other.execute("COMMIT")
        other.close()
    assert await pending == 1


async def test_a_failed_fsync_fails_its_writes_and_every_later_one(writer: GroupCommitWriter) -> None:
    assert await writer.submit(insert(1)) == 1

    def failing_fsync() -> None:
        raise OSError(5, "Input/output error")

    assert writer._wal is not None
    writer._wal.fsync = failing_fsync  # type: ignore[method-assign]  # a disk that fails
    with pytest.raises(StorageError, match="could not be synced"):
        await writer.submit(insert(2))
    with pytest.raises(StorageError, match="could not be synced"):
        writer.submit(insert(3))


async def test_a_write_from_another_event_loop_is_refused(writer: GroupCommitWriter) -> None:
    errors: list[BaseException] = []

    def other_loop() -> None:
        async def submit() -> None:
            writer.submit(insert(1))

        try:
            asyncio.run(submit())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=other_loop)
    thread.start()
    await asyncio.to_thread(thread.join)
    assert len(errors) == 1 and isinstance(errors[0], StorageError)
    assert await writer.submit(count) == 0


async def test_a_database_not_in_wal_mode_is_refused(db_path: str) -> None:
    def connect() -> sqlite3.Connection:
        return sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)

    with pytest.raises(StorageError, match="WAL"):
        await GroupCommitWriter(connect, lambda conn: None).start()


async def test_not_durable_writes_resolve_at_commit(db_path: str) -> None:
    w = GroupCommitWriter(table_connect(db_path), lambda conn: None, durable=False)
    await w.start()
    try:
        assert await asyncio.gather(*(w.submit(insert(v)) for v in range(5))) == [1] * 5
        assert w.stats()["syncs"] == 0
    finally:
        await stopped(w)


async def test_checkpoints_keep_the_wal_bounded_under_sustained_writes(db_path: str) -> None:
    w = GroupCommitWriter(table_connect(db_path), lambda conn: None, checkpoint_frames=50, restart_frames=200)
    await w.start()
    pad = os.urandom(3000)  # about a page per row
    try:
        for start in range(0, 4000, 40):
            await asyncio.gather(*(w.submit(insert(v, pad)) for v in range(start, start + 40)))
        assert await w.submit(count) == 4000
        assert w.stats()["checkpoints"] > 0
        # 4,000 pages were written; the WAL was restarted along the way instead of growing.
        assert os.stat(db_path + "-wal").st_size < 2000 * 4096
    finally:
        await stopped(w)
    # and the checkpointed database holds every row
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT count(*), sum(length(pad)) FROM t").fetchone() == (4000, 4000 * 3000)
    finally:
        conn.close()


async def test_after_a_checkpoint_the_next_one_waits_for_as_many_new_frames(
    db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A checkpoint waits for `checkpoint_frames` frames not yet copied (the WAL index tells): the
    # WAL file keeps its largest size, which would look full for ever, and every small commit
    # would be checkpointed (an fsync of the database and of the restarted log).
    monkeypatch.setattr("awaken.storage.sqlite.sync.CHECKPOINT_EVERY_S", 0.0)
    monkeypatch.setattr("awaken.storage.sqlite.writer.CHECKPOINT_EVERY_S", 0.0)
    w = GroupCommitWriter(table_connect(db_path), lambda conn: None, checkpoint_frames=50)
    await w.start()
    pad = os.urandom(3000)  # about a page per row
    try:
        for start in range(0, 200, 20):
            await asyncio.gather(*(w.submit(insert(v, pad)) for v in range(start, start + 20)))
        assert w.stats()["checkpoints"] > 0

        def checkpoint_all() -> tuple[int, int, int]:
            conn = sqlite3.connect(db_path)
            try:
                return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()  # type: ignore[no-any-return]
            finally:
                conn.close()

        deadline = asyncio.get_running_loop().time() + 10
        while (result := await asyncio.to_thread(checkpoint_all))[0] or result[1] != result[2]:
            assert asyncio.get_running_loop().time() < deadline, result  # (busy: the writer's own)
        # the whole log is in the database file now
        await w.submit(insert(201))  # restarts the log
        assert os.stat(db_path + "-wal").st_size > 50 * 4120  # (the file keeps its size)
        after = w.stats()["checkpoints"]
        for v in range(202, 222):  # 20 small commits: fewer frames than a checkpoint waits for
            await w.submit(insert(v))
        assert w.stats()["checkpoints"] == after
    finally:
        await stopped(w)


async def test_stop_commits_what_is_queued(db_path: str) -> None:
    w = GroupCommitWriter(table_connect(db_path), lambda conn: None)
    await w.start()
    futures = [w.submit(insert(v)) for v in range(5)]
    await stopped(w)  # before the loop ran the scheduled flush
    assert await asyncio.gather(*futures) == [1] * 5
    with pytest.raises(StorageError, match="closed"):
        w.submit(insert(9))


async def test_a_write_that_fills_the_disk_fails_alone(writer: GroupCommitWriter) -> None:
    # SQLite rolls the whole transaction back on "database or disk is full": the writer runs
    # the batch again without the failing write, and its neighbours commit.
    page_count = await writer.submit(lambda conn: conn.execute("PRAGMA page_count").fetchone()[0])
    await writer.submit(lambda conn: conn.execute(f"PRAGMA max_page_count = {page_count}").fetchone())
    try:
        futures = [
            writer.submit(insert(1)),
            writer.submit(insert(2, os.urandom(200_000))),
            writer.submit(insert(3)),
        ]
        results = await asyncio.gather(*futures, return_exceptions=True)
    finally:
        await writer.submit(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823").fetchone())
    assert results[0] == 1 and results[2] == 1
    assert isinstance(results[1], StorageError) and "full" in str(results[1])
    assert await writer.submit(lambda conn: [r[0] for r in conn.execute("SELECT v FROM t ORDER BY v")]) == [
        1,
        3,
    ]
    assert await writer.submit(insert(4, os.urandom(200_000))) == 1  # room again


async def wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(5000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not met within 5 s")


def hold_fsync(writer: GroupCommitWriter) -> threading.Event:
    """Make the writer's WAL fsyncs wait for the returned event (a slow disk)."""
    release = threading.Event()
    wal = writer._wal
    assert wal is not None
    real = wal.fsync

    def slow_fsync() -> None:
        release.wait(10)
        real()

    wal.fsync = slow_fsync  # type: ignore[method-assign]
    return release


async def test_writes_are_acknowledged_only_once_synced(writer: GroupCommitWriter) -> None:
    release = hold_fsync(writer)
    write = writer.submit(insert(1))
    await wait_until(lambda: writer.stats()["batches_committed"] == 1)  # committed, not synced
    barrier = writer.durable_barrier()
    assert barrier is not None
    for _ in range(10):
        await asyncio.sleep(0)
    assert not write.done() and not barrier.done()
    release.set()
    assert await write == 1
    await barrier
    assert writer.durable_barrier() is None  # nothing left to sync


@contextlib.asynccontextmanager
async def store_on_a_slow_disk(db_path: str) -> AsyncIterator[tuple[SqliteStore, threading.Event]]:
    """An open store whose WAL fsyncs wait for the returned event."""
    store = SqliteStore(db_path)
    await store.open()
    try:
        assert store._writer is not None
        yield store, hold_fsync(store._writer)
    finally:
        await store.close()


def new_invocation(invocation_id: str) -> NewInvocation:
    return NewInvocation(invocation_id, "S", "h", None, False, b"1", {}, 1_000, 60_000)


async def test_store_reads_do_not_show_commits_before_they_are_on_disk(db_path: str) -> None:
    async with store_on_a_slow_disk(db_path) as (store, release):
        writer = store._writer
        assert writer is not None
        create = asyncio.ensure_future(store.create_invocation(new_invocation("inv-slow")))
        await wait_until(lambda: writer.stats()["batches_committed"] >= 1)
        read = asyncio.ensure_future(store.get_invocation("inv-slow"))
        await wait_until(lambda: bool(writer._durable_waiters))  # the read saw the commit, waits
        assert not read.done() and not create.done()
        release.set()
        record = await read
        assert record is not None and record.id == "inv-slow"
        assert (await create).created


async def test_an_early_write_resolves_at_commit_and_the_next_durable_one_covers_it(
    writer: GroupCommitWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "EARLY_SYNC_S", 30.0)  # no timer within the test
    assert await writer.submit(insert(1), early=True) == 1  # committed, not synced, not queued
    assert writer.stats()["syncs"] == 0 and writer._queued_seq < writer._committed_seq
    assert await writer.submit(insert(2)) == 1
    assert writer.stats()["syncs"] == 1  # one fsync made both durable
    assert writer.durable_barrier() is None
    assert not writer._early  # nothing kept of the early write once it ran


async def test_an_early_write_alone_is_synced_soon_and_at_once_for_a_reader(
    writer: GroupCommitWriter,
) -> None:
    await writer.submit(insert(1), early=True)
    await wait_until(lambda: writer.stats()["syncs"] == 1)  # nobody asked: the timer did
    assert writer.durable_barrier() is None
    release = hold_fsync(writer)
    await writer.submit(insert(2), early=True)
    barrier = writer.durable_barrier()  # a reader saw it: it is synced now, not after the timer
    assert barrier is not None
    await asyncio.sleep(0.005)
    assert not barrier.done()  # the fsync is held
    release.set()
    await asyncio.wait_for(barrier, 2.0)
    assert writer.stats()["syncs"] == 2


async def test_early_writes_that_fail_or_are_cancelled_are_forgotten(writer: GroupCommitWriter) -> None:
    def fail(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("no")

    cancelled = writer.submit(insert(1), early=True)
    cancelled.cancel()
    with pytest.raises(StorageError):
        await writer.submit(fail, early=True)
    assert await writer.submit(insert(2)) == 1
    assert not writer._early


async def test_a_call_does_not_wait_for_the_fsync_of_its_creation(db_path: str) -> None:
    """`create_invocation(durable=False)` answers at commit; `settled()` waits for the disk."""
    async with store_on_a_slow_disk(db_path) as (store, release):
        assert (await store.create_invocation(new_invocation("inv-early"), durable=False)).created
        settled = asyncio.ensure_future(store.settled())
        for _ in range(10):
            await asyncio.sleep(0)
        assert not settled.done()
        release.set()
        await settled
