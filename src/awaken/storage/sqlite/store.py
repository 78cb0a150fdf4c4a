"""The SQLite implementation of `awaken.storage.protocol.Store`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from awaken.errors import StorageError
from awaken.storage.lifecycle.op import Op
from awaken.storage.lifecycle.store import DEFAULT_LEASE_MS, LifecycleStore, Operation
from awaken.storage.protocol import Store
from awaken.storage.sqlite.faults import fault_kind
from awaken.storage.sqlite.migrate import apply_migrations, latest_version, schema_version
from awaken.storage.sqlite.tx import QUERIES, SqliteTx, run_to_end
from awaken.storage.sqlite.writer import BUSY_TIMEOUT_S, GroupCommitWriter, wrap_error

T = TypeVar("T")
log = logging.getLogger("awaken.storage")

WATCH_EVERY_S = 0.05  # how often the watcher looks at the WAL file, and first retries a fault
LOCK_PROBE_S = 0.05  # how often it tries the lock another process holds
MAX_RETRY_S = 1.0  # ... and at most this far apart, other faults
Synchronous = Literal["full", "normal"]


class SqliteStore(LifecycleStore):
    """awaken's durable state in one SQLite file (WAL mode), with group commit.

    Writes run on the event loop that opened the store, in `GroupCommitWriter` (writer.py):
    writes submitted together share one transaction and one fsync, and a failing write (a stale
    epoch, say) fails alone. Reads run on a second connection on a reader thread; WAL lets them
    run while the writer commits. `stats()` counts batches, writes, syncs and checkpoints.

    Durability, `synchronous`:

    - ``"full"`` (default): every commit is fsynced before the write returns. A committed write
      survives a process crash and an OS crash or power loss.
    - ``"normal"``: WAL is fsynced only at checkpoints. A committed write survives a crash of the
      process, but the last commits before an OS crash or power loss may be lost (the database
      stays consistent). Faster on slow disks.

    Faults (faults.py): when the storage cannot write (disk full, locked by another process for
    more than `busy_timeout` seconds, an I/O error, the WAL file deleted), `storage_problem()`
    says why and a watcher task probes the storage or reopens the connections until it writes
    again; nothing that was acknowledged is lost on the way.

    The store never reads a clock: every time is an integer of milliseconds passed in. One
    process per file (an exclusive lock on `<path>.lock`): a SQLite store is never shared.
    `migrate=False` refuses to open a database whose schema is not the latest.
    """

    def __init__(
        self,
        path: str,
        *,
        synchronous: str = "full",
        node_id: str | None = None,
        lease_ms: int = DEFAULT_LEASE_MS,
        migrate: bool = True,
        busy_timeout: float = BUSY_TIMEOUT_S,
    ) -> None:
        super().__init__(node_id=node_id, lease_ms=lease_ms)
        if busy_timeout < 0:
            raise ValueError("busy_timeout must be >= 0 seconds")
        self.busy_timeout = busy_timeout
        if synchronous not in ("full", "normal"):
            raise ValueError(f"synchronous must be 'full' or 'normal', not {synchronous!r}")
        if path in ("", ":memory:") or path.startswith("file::memory:"):
            raise ValueError("SqliteStore needs a database file (its reader and writer share it)")
        self.path = path
        self.synchronous: Synchronous = cast(Synchronous, synchronous)
        self._writer: GroupCommitWriter | None = None
        self._last_writer: GroupCommitWriter | None = None  # keeps stats() after close()
        self._reader: ThreadPoolExecutor | None = None
        self._reader_conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self.migrate = migrate
        self.version = 0  # the schema version, once open
        self.applied: list[int] = []  # migrations applied by this open
        self._watcher: asyncio.Task[None] | None = None
        self._look_timer: asyncio.TimerHandle | None = None
        self._fault_seen = asyncio.Event()
        self.recoveries = 0  # times the connections were reopened after a fault

    # -- life cycle ------------------------------------------------------------------------------
    def _connect(self, *, reader: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10.0, cached_statements=256
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(QUERIES["pragma_busy_timeout"])
            if not reader:
                mode = conn.execute(QUERIES["pragma_wal"]).fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StorageError(f"cannot put {self.path} in WAL mode (journal_mode is {mode})")
            conn.execute(QUERIES[f"pragma_synchronous_{self.synchronous}"])
            conn.execute(QUERIES["pragma_foreign_keys_off"])
            if reader:
                conn.execute(QUERIES["pragma_query_only"])
        except BaseException:
            conn.close()
            raise
        return conn

    async def open(self) -> None:
        """Create the file if needed, apply pending migrations, start the writer and reader."""
        if self._writer is not None:
            raise StorageError("the store is already open")
        parent = Path(self.path).parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = _lock_exclusively(self.path + ".lock")
        except OSError as exc:
            raise StorageError(
                f"cannot open the database {self.path}: {exc.strerror or exc} ({exc.filename or parent}): "
                "check that its directory exists and is writable by this user"
            ) from None
        self._fault_seen = asyncio.Event()
        writer = GroupCommitWriter(
            lambda: self._connect(reader=False),
            self._set_up,
            durable=self.synchronous == "full",
            busy_timeout=self.busy_timeout,
            on_fault=self._fault_seen.set,
        )
        try:
            await writer.start()
        except StorageError as exc:
            self._unlock()
            if fault_kind(exc) in ("reopen", "corrupt"):
                cause = exc.__cause__ or exc
                raise StorageError(
                    f"cannot open the database {self.path} ({cause}): check that the file and its "
                    "directory are writable by this user (and, if it is damaged, `awaken migrate`)"
                ) from None
            raise
        except BaseException:
            self._unlock()
            raise
        self._writer = self._last_writer = writer
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="awaken-sqlite-reader")
        try:
            self._reader_conn = await self._in_reader(lambda: self._connect(reader=True))
        except BaseException:
            await self.close()
            raise
        self._watcher = asyncio.get_running_loop().create_task(self._watch(writer))
        self._look_timer = asyncio.get_running_loop().call_later(WATCH_EVERY_S, self._look, writer)

    def _set_up(self, conn: sqlite3.Connection) -> None:
        if self.migrate:
            self.applied = apply_migrations(conn)
        self.version = schema_version(conn)
        if self.version != latest_version():
            raise StorageError(
                f"{self.path} is at schema version {self.version}, and this awaken needs "
                f"{latest_version()}: run `awaken migrate` (or start without --no-migrate)"
            )
        # A file SQLite could only open read-only starts, and then refuses every write: find out
        # now, with a write that is undone.
        try:
            conn.execute(QUERIES["begin_immediate"])
            try:
                conn.execute(QUERIES["probe_write"])
                conn.execute(QUERIES["probe_undo"])
            finally:
                if conn.in_transaction:
                    conn.execute(QUERIES["rollback"])
        except sqlite3.Error as exc:
            if fault_kind(exc) in ("reopen", "full"):
                raise StorageError(
                    f"cannot write the database {self.path} ({exc}): check that the file and its "
                    "directory are writable by this user, and that the disk has room"
                ) from None
            raise

    async def check_integrity(self) -> list[str]:
        """SQLite's `PRAGMA integrity_check`: [] if the file is sound, else what is damaged."""
        conn = self._reader_conn
        if conn is None:
            raise StorageError("the store is not open")

        def check() -> list[str]:
            rows = conn.execute(QUERIES["integrity_check"]).fetchall()
            return [str(row[0]) for row in rows if str(row[0]) != "ok"]

        try:
            return await self._in_reader(check)
        except sqlite3.DatabaseError as exc:  # too damaged to even check
            return [str(exc)]

    async def close(self) -> None:
        """Commit what is queued, stop the writer, close both connections. Idempotent."""
        timer, self._look_timer = self._look_timer, None
        if timer is not None:
            timer.cancel()
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()
            # Poll rather than join in an executor thread: the default executor may be busy
            # with users' blocking steps, and closing must not wait behind them.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while writer.is_alive() and loop.time() < deadline:
                await asyncio.sleep(0.002)
            writer.close()
        reader, self._reader = self._reader, None
        if reader is not None:
            conn, self._reader_conn = self._reader_conn, None
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(reader, conn.close)
            reader.shutdown(wait=True)
        self._unlock()

    def _unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # releases the lock

    def storage_problem(self) -> str | None:
        """Why the store cannot write now (None: it can)."""
        writer = self._writer
        return None if writer is None else writer.problem

    # -- faults ------------------------------------------------------------------------------------
    def _look(self, writer: GroupCommitWriter) -> None:
        """Every WATCH_EVERY_S while all is well (a timer and a stat, no task): is the WAL file
        still at its path? If not, or if a write failed meanwhile, wake the watcher."""
        if self._writer is not writer:
            return
        if writer.problem is not None or writer.needs_reopen or not writer.wal_intact():
            self._fault_seen.set()
        self._look_timer = asyncio.get_running_loop().call_later(WATCH_EVERY_S, self._look, writer)

    def _healthy(self, writer: GroupCommitWriter) -> bool:
        return writer.problem is None and not writer.needs_reopen and writer.wal_intact()

    async def _watch(self, writer: GroupCommitWriter) -> None:
        """Until closed: once a fault is seen (by a write, or `_look`), probe the storage or
        reopen the connections until it writes again."""
        while True:
            await self._fault_seen.wait()
            self._fault_seen.clear()
            backoff = WATCH_EVERY_S
            while not self._healthy(writer):
                if writer.needs_reopen or (writer.problem is None and not writer.wal_intact()):
                    if not writer.needs_reopen:
                        writer.lost_wal()
                    reopened = await self._reopen(writer)
                    backoff = WATCH_EVERY_S if reopened else min(backoff * 2, MAX_RETRY_S)
                else:
                    await self._probe(writer)
                    backoff = LOCK_PROBE_S if writer.locked else min(backoff * 2, MAX_RETRY_S)
                if self._healthy(writer):
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._fault_seen.wait(), backoff)
                self._fault_seen.clear()

    async def _probe(self, writer: GroupCommitWriter) -> None:
        def probe(conn: sqlite3.Connection) -> None:
            conn.execute(QUERIES["probe_write"])
            conn.execute(QUERIES["probe_undo"])

        with contextlib.suppress(Exception):  # the writer notes the fault (or the recovery)
            await writer.submit(probe)

    async def _reopen(self, writer: GroupCommitWriter) -> bool:
        """Save what the write connection's log holds into the main file, then close every
        connection and open them again. False if that failed (the watcher tries again)."""
        reason = writer.problem or "the storage failed"
        await writer.quiesce()
        log.warning("sqlite store %s: %s: reopening its connections", self.path, reason)
        saved = False
        if writer.connected():
            try:
                await self._in_reader(writer.checkpoint_into_main)
            except Exception as exc:
                log.error("sqlite store %s: could not checkpoint the log into the file: %s", self.path, exc)
                writer.settle_unsaved(StorageError(f"{reason}; the write could not be saved: {exc}"))
            else:
                saved = True
                writer.settle_unsaved(None)
        elif writer.has_unsaved():
            writer.settle_unsaved(StorageError(f"{reason}; the write could not be saved"))
        try:
            old = await writer.detach()
            reader, self._reader_conn = self._reader_conn, None
            for conn in (reader, old):  # the write connection last: it deletes the old log
                if conn is not None:
                    with contextlib.suppress(sqlite3.Error):
                        await self._in_reader(conn.close)
            if saved:
                # Everything of ours is in the main file: a log file at the path now is someone
                # else's (a stale copy put back), and replaying it would undo pages.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path + "-wal")
            new, wal = await self._in_reader(writer.open_connection)
            try:
                self._reader_conn = await self._in_reader(lambda: self._connect(reader=True))
            except BaseException:
                new.close()
                wal.close()
                raise
        except Exception as exc:
            writer.problem = f"{reason}; reopening the database failed: {exc}"
            log.error("sqlite store %s: %s", self.path, writer.problem)
            return False
        writer.attach(new, wal)
        self.recoveries += 1
        log.warning("sqlite store %s: writes again", self.path)
        return True

    def stats(self) -> dict[str, Any]:
        """Group-commit counters: batches_committed, ops_committed (average batch size is
        ops_committed / batches_committed), ops_failed, ops_skipped, batches_failed,
        max_batch_size, syncs (WAL fsyncs), checkpoints."""
        writer = self._writer or self._last_writer
        if writer is None:
            return {"batches_committed": 0, "ops_committed": 0}
        return {**writer.stats(), "recoveries": self.recoveries}

    # -- plumbing --------------------------------------------------------------------------------
    async def _write(
        self, fn: Operation[T], lock_key: str = "", *, heavy: bool = False, early: bool = False
    ) -> T:
        writer = self._writer
        if writer is None:
            raise StorageError("the store is not open")
        node, lease_ms = self.node_id, self.lease_ms
        result: T = await writer.submit(
            lambda conn: run_to_end(fn(Op(SqliteTx(conn, node, lease_ms)))), heavy=heavy, early=early
        )
        return result

    async def settled(self) -> None:
        writer = self._writer
        barrier = None if writer is None else writer.durable_barrier()
        if barrier is not None:
            await barrier

    async def _in_reader(self, fn: Callable[[], T]) -> T:
        if self._reader is None:
            raise StorageError("the store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._reader, fn)

    async def _read(self, fn: Operation[T]) -> T:
        node, lease_ms = self.node_id, self.lease_ms

        def run() -> T:
            conn = self._reader_conn
            if conn is None:
                raise StorageError("the store is not open")
            try:
                return run_to_end(fn(Op(SqliteTx(conn, node, lease_ms))))
            except sqlite3.Error as exc:
                raise wrap_error(exc) from exc

        result = await self._in_reader(run)
        writer = self._writer
        if writer is not None:
            # The read may have seen a commit whose fsync is still running: answer once it is
            # on disk (usually at once).
            barrier = writer.durable_barrier()
            if barrier is not None:
                await barrier
        return result


def _lock_exclusively(lock_path: str) -> int | None:
    """One process per SQLite file: two engines on one file would both recover and run the same
    invocations. The lock (flock) goes with the process, even on kill -9. PostgreSQL is the way
    to run several nodes."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no lock
        return None
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StorageError(
            f"{lock_path[: -len('.lock')]} is in use by another awaken process (one process per "
            "SQLite file; use PostgreSQL to run several)"
        ) from None
    return fd


if TYPE_CHECKING:

    def _implements_protocol(store: SqliteStore) -> Store:
        return store  # mypy checks that SqliteStore implements the Protocol
