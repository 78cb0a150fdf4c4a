"""Group commit on the event loop, durability on a sync thread.

A write is a function `fn(conn) -> result` run inside a write transaction. `submit` queues it and
returns a future; the first write of a loop iteration schedules a flush, so the writes that many
invocations submit together share one transaction. The flush runs on the event loop's thread:
SQLite statements are short CPU work, and running them there spares handing the GIL back and
forth between a writer thread and the loop at every statement (measured: those hand-offs cost
more than the statements themselves).

Each flush runs its writes without savepoints first. If one raises, the transaction is rolled
back and the batch runs again with each write in its own SAVEPOINT, so the failing write fails
alone and its neighbours commit (writes are pure functions of the database: running one twice
gives the same result).

Durability. The connection commits with SQLite's `synchronous=NORMAL`: COMMIT writes the WAL but
does not fsync it. With `durable=True` a sync thread then fsyncs the WAL file, and only after
that resolves the batch's futures. This is SQLite's `synchronous=FULL` (which is NORMAL plus a WAL
fsync after each commit) with the fsync moved off the loop and shared: while one fsync runs, the
loop commits the next batches, and the next fsync covers them all. No write is acknowledged before
it is on disk, but for those submitted `early` (resolved at COMMIT): a batch of only such writes
is not synced on its own, the next batch's fsync covers it (or, 20 ms later, one of its own).
With `durable=False` futures resolve at COMMIT (a process crash loses nothing; an OS crash or
power cut may lose the last commits).

Checkpoints. Automatic checkpoints are off on the write connection, because they fsync the
database file and would stall the loop. The sync thread checkpoints (PASSIVE: it never blocks the
writer) on a connection of its own once the WAL holds `checkpoint_frames` frames not yet copied
(read from the WAL index, see sync.py). Under constant
load a passive checkpoint never quite catches up with the writer, so past `restart_frames` it
checkpoints in RESTART mode, which holds the write lock for the copy: the loop then finds the
database busy and retries its flush a moment later instead of blocking.

Heavy writes. A write submitted as `heavy` (one that stores megabytes: a large request body)
runs with its batch on an offload thread instead: copying it into the database would stall the
loop for as long (measured: up to a second for 31 MiB). The loop starts no other batch meanwhile.

Faults (faults.py). A batch that fails for a reason of the storage sets `problem`; the next batch
that commits clears it. Another process holding the lock is waited for `busy_timeout` seconds at
most, then writes are refused at once until a probe finds the lock released. After each commit
(normal) or fsync (full) the writer checks that the WAL file at its path is still the one it
writes; if not, the batch is not acknowledged but kept as `unsaved` until the store's recovery
has checkpointed the open connection's log into the main file (then it is acknowledged) or failed
to (then it fails). While the store reopens its connections the writer is `suspended`.
"""

from __future__ import annotations

import asyncio
import bisect
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from awaken.errors import AwakenError, StorageError
from awaken.storage.sqlite.faults import WalFile, describe_fault, fault_kind
from awaken.storage.sqlite.sync import CHECKPOINT_EVERY_S, SyncItem, SyncSide, resolve_results
from awaken.storage.sqlite.tx import QUERIES

WriteFn = Callable[[sqlite3.Connection], Any]
_Op = tuple[WriteFn, "asyncio.Future[Any]"]
_Result = tuple["asyncio.Future[Any]", bool, Any]  # (future, ok, value or exception)

BUSY_RETRY_S = 0.002  # the database is locked (a RESTART checkpoint, another process): retry
BUSY_TIMEOUT_S = 2.0  # ... for this long by default, then fail the writes (503) until it is released
EARLY_SYNC_S = 0.02  # a batch of early writes alone is synced after this, unless a later fsync covers it
BATCH_SIZE_BOUNDS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000)  # histogram of writes per batch


def wrap_error(exc: BaseException) -> BaseException:
    """sqlite3 errors become StorageError; awaken's own errors (and bugs) pass through."""
    if isinstance(exc, AwakenError) or not isinstance(exc, sqlite3.Error):
        return exc
    err = StorageError(f"sqlite: {exc}")
    err.__cause__ = exc
    return err


def _is_busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class GroupCommitWriter(SyncSide):
    """Owns the write connection of one SQLite file, on the event loop that `start`s it."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        setup: Callable[[sqlite3.Connection], object],
        *,
        durable: bool = True,
        max_batch: int = 1000,
        checkpoint_frames: int = 1000,
        restart_frames: int = 16_000,
        name: str = "awaken-sqlite-sync",
        busy_timeout: float = BUSY_TIMEOUT_S,
        on_fault: Callable[[], None] | None = None,
    ) -> None:
        self._connect = connect
        self._setup = setup
        self._durable = durable
        self._max_batch = max_batch
        self._checkpoint_frames = checkpoint_frames
        self._restart_frames = restart_frames
        self._name = name
        self.busy_timeout = busy_timeout
        self._on_fault = on_fault
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: sqlite3.Connection | None = None
        self._pending: list[_Op] = []
        self._flush_scheduled = False
        self._busy_since: float | None = None
        self._accepting = False
        self._broken: StorageError | None = None  # an fsync failed: nothing is acknowledged after it
        self.problem: str | None = None  # why writes fail now (health endpoints say it)
        self.needs_reopen = False  # ... and the connections must be opened again
        self.suspended = False  # writes are refused at once (until `attach`)
        self._locked = False  # gave up waiting for another process's lock: refuse until released
        self._unsaved: list[_Result] = []  # committed into a WAL file no longer at its path
        self._unsaved_upto = 0
        self._heavy: set[asyncio.Future[Any]] = set()  # futures of heavy writes not yet run
        self._early: set[asyncio.Future[Any]] = set()  # futures resolved at commit, not yet run
        self._offloaded: asyncio.Future[Any] | None = None  # a batch running on the offload thread
        self._offload_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-offload")
        # (batch number, results) of committed batches for the sync thread; an Event asks it to
        # close its side (and is set when done); None stops it
        self._sync_queue: queue.SimpleQueue[SyncItem] = queue.SimpleQueue()
        self._committed_seq = 0  # batches committed so far (on the loop)
        self._queued_seq = 0  # ... of which handed to the sync thread
        self._early_sync: asyncio.TimerHandle | None = None  # syncs early batches nobody covered
        self._synced_seq = 0  # ... of which on disk
        self._durable_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._thread: threading.Thread | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._index_fd: int | None = None
        self._wal: WalFile | None = None
        self._last_checkpoint = 0.0
        self._last_checkpoint_poke = 0.0
        self.batches_committed = 0
        self.ops_committed = 0
        self.ops_failed = 0  # rolled back alone, or with a failed batch
        self.ops_skipped = 0  # cancelled before they ran
        self.batches_failed = 0
        self.batches_offloaded = 0  # run on the offload thread (they held a heavy write)
        self.max_batch_size = 0
        self.syncs = 0
        self.checkpoints = 0
        self._batch_size_buckets = [0] * (len(BATCH_SIZE_BOUNDS) + 1)
        self._ops_in_batches = 0

    # -- life cycle ----------------------------------------------------------------------------
    def open_connection(self) -> tuple[sqlite3.Connection, WalFile]:
        """Blocking: a write connection, set up (migrations), and its WAL file."""
        conn = self._connect()
        try:
            self._setup(conn)
            mode = str(conn.execute(QUERIES["pragma_journal_mode"]).fetchone()[0]).lower()
            if mode != "wal":
                raise StorageError(f"the writer needs a database in WAL mode, not {mode}")
            conn.execute(QUERIES["pragma_synchronous_normal"])
            conn.execute(QUERIES["pragma_no_autocheckpoint"])
            conn.execute(QUERIES["pragma_busy_timeout_none"])
            wal = WalFile(_database_path(conn) + "-wal")
            wal.open()
        except BaseException:
            conn.close()
            raise
        return conn, wal

    async def start(self) -> None:
        """Connect and run `setup` (migrations) off the loop, then start the sync thread."""
        loop = asyncio.get_running_loop()
        try:
            self._conn, self._wal = await loop.run_in_executor(None, self.open_connection)
        except BaseException as exc:
            raise wrap_error(exc) from exc
        self._loop = loop
        self._accepting = True
        self._thread = threading.Thread(target=self._sync_run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting writes; what is queued is committed (and synced), then the thread ends."""
        if not self._accepting:
            return
        self._accepting = False
        if self._offloaded is None:
            self._finish_stop()
        # else: the offloaded batch's end finishes the stop

    def _finish_stop(self) -> None:
        if self._pending:
            self._flush()
        if self._pending:  # the database stayed busy: these cannot be committed now
            leftovers, self._pending = self._pending, []
            closed = StorageError("the store is closed")
            resolve_results([(future, False, closed) for _, future in leftovers])
        self._sync_committed()
        self._sync_queue.put(None)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)

    def close(self) -> None:
        """Close the write connection (after `stop` and the thread's end)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        self._offload_thread.shutdown(wait=False)

    # -- caller side ---------------------------------------------------------------------------
    def submit(self, fn: WriteFn, *, heavy: bool = False, early: bool = False) -> asyncio.Future[Any]:
        """Queue a write; the returned future resolves once its transaction is committed (and
        synced, if durable). Call it on the loop that started the writer. A `heavy` write (one
        that stores megabytes) runs with its batch on a thread of its own, off the loop. An
        `early` one resolves at COMMIT even if durable: its fsync still comes, and covers it,
        but nobody waits for it (a failed fsync then fails the writes after it, not this one)."""
        if not self._accepting:
            raise StorageError("the store is closed")
        if self.suspended:
            raise StorageError(f"the store is unavailable: {self.problem}")
        loop = self._loop
        assert loop is not None
        if asyncio.get_running_loop() is not loop:
            raise StorageError("the store is used from another event loop than the one that opened it")
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((fn, future))
        if heavy:
            self._heavy.add(future)
        if early and self._durable:
            self._early.add(future)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    # -- the flush, on the loop ----------------------------------------------------------------
    def _flush(self) -> None:
        self._flush_scheduled = False
        conn = self._conn
        if self.suspended and self._pending:  # recovering: fail fast, the store says why
            refused, self._pending = self._pending, []
            err = StorageError(f"the store is unavailable: {self.problem}")
            self._early.difference_update(future for _, future in refused)
            resolve_results([(future, False, err) for _, future in refused])
            return
        if conn is None or not self._pending or self._offloaded is not None:
            return  # (an offloaded batch flushes again when it is done)
        batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
        ops: list[_Op] = []
        for op in batch:
            if op[1].cancelled():
                self.ops_skipped += 1
                self._early.discard(op[1])
            else:
                ops.append(op)
        if self._heavy and self._offload(conn, ops):
            return
        try:
            if ops:
                conn.execute(QUERIES["begin_immediate"])
        except sqlite3.Error as exc:
            if _is_busy(exc) and self._retry_when_busy(ops):
                return
            self._fail(ops, exc)
        else:
            self._busy_since = None
            self._locked = False
            if ops:
                self._commit(conn, ops)
        if self._pending and not self._flush_scheduled:
            self._flush_scheduled = True
            assert self._loop is not None
            self._loop.call_soon(self._flush)

    def _retry_when_busy(self, ops: list[_Op]) -> bool:
        if self._locked:  # known to be held by another process: fail fast until it is released
            return False
        now = time.monotonic()
        if self._busy_since is None:
            self._busy_since = now
        if now - self._busy_since > self.busy_timeout:
            self._busy_since = None
            self._locked = True
            return False
        self._pending[:0] = ops
        if not self._flush_scheduled:
            self._flush_scheduled = True
            assert self._loop is not None
            self._loop.call_later(BUSY_RETRY_S, self._flush)
        return True

    def _offload(self, conn: sqlite3.Connection, ops: list[_Op]) -> bool:
        """Run a batch that holds a heavy write on the offload thread (copying megabytes into
        the database would stall the loop for as long); False if it holds none."""
        heavy = [future for _, future in ops if future in self._heavy]
        if not heavy:
            return False
        self._heavy.difference_update(heavy)
        self.batches_offloaded += 1

        def run() -> tuple[bool, Any]:
            try:
                conn.execute(QUERIES["begin_immediate"])
            except sqlite3.Error as exc:
                return False, exc
            try:
                return True, self._transact(conn, ops)
            except Exception as exc:
                return True, exc

        assert self._loop is not None
        done = self._offloaded = self._loop.run_in_executor(self._offload_thread, run)
        done.add_done_callback(lambda _: self._offload_done(ops, heavy, done))
        return True

    def _offload_done(
        self, ops: list[_Op], heavy: list[asyncio.Future[Any]], done: asyncio.Future[Any]
    ) -> None:
        self._offloaded = None
        began, value = done.result()
        if not began:
            if _is_busy(value) and self._retry_when_busy(ops):
                self._heavy.update(heavy)
            else:
                self._fail(ops, value)
        elif isinstance(value, BaseException):
            self._fail(ops, value)
        else:
            self._busy_since = None
            self._locked = False
            self._committed(value)
        if not self._accepting:
            self._finish_stop()
        elif self._pending and not self._flush_scheduled:
            self._flush_scheduled = True
            assert self._loop is not None
            self._loop.call_soon(self._flush)

    def _transact(self, conn: sqlite3.Connection, ops: list[_Op]) -> list[_Result]:
        """Run `ops` in the open transaction and commit (rolled back if that raises)."""
        results = self._run_optimistic(conn, ops)
        if results is None:
            results = self._run_isolated(conn, ops)
        conn.execute(QUERIES["commit"])
        return results

    def _commit(self, conn: sqlite3.Connection, ops: list[_Op]) -> None:
        """Run `ops` in the open transaction and commit; hand the results on."""
        try:
            results = self._transact(conn, ops)
        except BaseException as exc:
            self._fail(ops, exc)
            if not isinstance(exc, Exception):
                raise
            return
        self._committed(results)

    def _committed(self, results: list[_Result]) -> None:
        failed = sum(1 for _, ok, _ in results if not ok)
        if failed:
            self._note_faults(results)
        elif self.problem is not None and not self.suspended:
            self.problem = None  # the storage writes again
        self.batches_committed += 1
        self.ops_committed += len(results) - failed
        self.ops_failed += failed
        self.max_batch_size = max(self.max_batch_size, len(results))
        self._batch_size_buckets[bisect.bisect_left(BATCH_SIZE_BOUNDS, len(results))] += 1
        self._ops_in_batches += len(results)
        self._committed_seq += 1
        if self._durable:
            if self._early:
                early = [result for result in results if result[0] in self._early]
                self._early.difference_update(future for future, _, _ in early)
                resolve_results(early)
                if len(early) == len(results):
                    # Nobody waits for this batch's fsync: the next batch's covers it (the WAL is
                    # synced whole), or the timer's if none comes soon; a reader asks at once.
                    if self._early_sync is None:
                        assert self._loop is not None
                        self._early_sync = self._loop.call_later(EARLY_SYNC_S, self._sync_committed)
                    return
            self._queue_sync(results)
        elif self._wal is not None and not self._wal.intact():
            self._wal_lost(self._committed_seq, results)
        else:
            resolve_results(results)
            self._synced_seq = self._committed_seq
            now = time.monotonic()
            if now - self._last_checkpoint_poke >= CHECKPOINT_EVERY_S:
                self._last_checkpoint_poke = now  # wake the sync thread to checkpoint, not per batch
                self._sync_queue.put((self._committed_seq, []))

    def _note_faults(self, results: list[_Result]) -> None:
        for _, ok, value in results:
            if not ok and fault_kind(value) is not None:
                self._fault(value)
                return

    def _fault(self, exc: BaseException | str, *, reopen: bool = False) -> None:
        """On the loop: the storage failed (`exc`, or a description); the store's watcher
        probes it, or reopens the connections (`reopen`), until it writes again."""
        if isinstance(exc, str):
            self.problem = exc
        else:
            self.problem = describe_fault(exc)
            reopen = reopen or fault_kind(exc) == "reopen"
        if reopen:
            self.needs_reopen = self.suspended = True
        if self._on_fault is not None:
            self._on_fault()

    def _wal_lost(self, upto: int, results: list[_Result]) -> None:
        """On the loop: batches up to `upto` went into a WAL file that is no longer at its path.
        They wait, unacknowledged, for `settle_unsaved`."""
        self._unsaved.extend(results)
        self._unsaved_upto = max(self._unsaved_upto, upto)
        if not self.needs_reopen:
            self._fault("the database's write-ahead log file was deleted or replaced", reopen=True)

    def _run_optimistic(self, conn: sqlite3.Connection, ops: list[_Op]) -> list[_Result] | None:
        """The writes in the open transaction, no savepoints; None (rolled back) if one raises."""
        results: list[_Result] = []
        for fn, future in ops:
            try:
                results.append((future, True, fn(conn)))
            except Exception:
                if conn.in_transaction:  # SQLite may have rolled back already (disk full, I/O)
                    conn.execute(QUERIES["rollback"])
                return None
        return results

    def _run_isolated(self, conn: sqlite3.Connection, ops: list[_Op]) -> list[_Result]:
        """The writes in a new transaction, each in its own savepoint: a failing one is undone
        alone. If SQLite rolls the whole transaction back (disk full, I/O error), the writes
        run again without the one that failed."""
        failed: dict[int, BaseException] = {}
        while True:
            conn.execute(QUERIES["begin_immediate"])
            results: list[_Result] = []
            for i, (fn, future) in enumerate(ops):
                if i in failed:
                    results.append((future, False, failed[i]))
                    continue
                conn.execute(QUERIES["savepoint"])
                try:
                    value = fn(conn)
                    conn.execute(QUERIES["release_savepoint"])
                except Exception as exc:
                    if not conn.in_transaction:
                        failed[i] = wrap_error(exc)
                        break
                    conn.execute(QUERIES["rollback_to_savepoint"])
                    conn.execute(QUERIES["release_savepoint"])
                    results.append((future, False, wrap_error(exc)))
                else:
                    results.append((future, True, value))
            else:
                return results

    def _fail(self, ops: list[_Op], exc: BaseException) -> None:
        conn = self._conn
        try:
            if conn is not None and conn.in_transaction:
                conn.execute(QUERIES["rollback"])
        except sqlite3.Error:
            pass
        self.batches_failed += 1
        self.ops_failed += len(ops)
        self._early.difference_update(future for _, future in ops)
        results: list[_Result] = []
        for _, future in ops:
            err = StorageError(f"the write transaction failed: {exc}")
            err.__cause__ = exc
            results.append((future, False, err))
        resolve_results(results)
        if fault_kind(exc) is not None:
            self._fault(exc)

    # -- recovery (the store's watcher drives it; the writer is suspended meanwhile) -----------
    def checkpoint_into_main(self) -> None:
        """Blocking (off the loop): copy every frame of the open connection's WAL into the main
        database file, which the checkpoint fsyncs. The WAL file need not be at its path any
        more: the connection reads it through its own descriptor."""
        conn = self._conn
        if conn is None:
            raise StorageError("the write connection is closed")
        conn.execute(QUERIES["pragma_busy_timeout_rescue"])
        try:
            busy, _, _ = conn.execute(QUERIES["wal_checkpoint_truncate"]).fetchone()
        finally:
            conn.execute(QUERIES["pragma_busy_timeout_none"])
        if busy:
            raise StorageError("the write-ahead log could not be checkpointed (the database is busy)")

    async def quiesce(self) -> None:
        """Wait until no batch runs on the offload thread (the connection is the caller's)."""
        while self._offloaded is not None:
            await asyncio.sleep(0.002)

    def has_unsaved(self) -> bool:
        return bool(self._unsaved)

    def connected(self) -> bool:
        return self._conn is not None

    @property
    def locked(self) -> bool:
        """Another process held the lock past `busy_timeout`, and no write got it since."""
        return self._locked

    def wal_intact(self) -> bool:
        """Whether the WAL file at its path is still the one the connection writes (a stat)."""
        return self._wal is None or self._wal.intact()

    def lost_wal(self) -> None:
        """On the loop: the WAL file is no longer at its path (found by the store's watcher)."""
        self._wal_lost(0, [])

    def settle_unsaved(self, error: StorageError | None) -> None:
        """On the loop: the unsaved batches are in the main file (acknowledge them) or not
        (`error`: fail them; they were never acknowledged)."""
        results, self._unsaved = self._unsaved, []
        if error is not None:
            results = [(future, False, error) for future, _, _ in results]
        self._settle(self._unsaved_upto, results, error)

    async def detach(self) -> sqlite3.Connection | None:
        """Suspended: the sync thread closes its connection and has synced what was queued; the
        write connection is handed over (to be closed)."""
        if self.is_alive():
            self._sync_committed()
            done = threading.Event()
            self._sync_queue.put(done)
            while not done.is_set():
                await asyncio.sleep(0.002)
        if self._wal is not None:
            self._wal.close()
        conn, self._conn = self._conn, None
        return conn

    def attach(self, conn: sqlite3.Connection, wal: WalFile) -> None:
        """On the loop: a new write connection (from `open_connection`); writes resume. The
        `problem` stays until a write commits (the store's watcher probes at once)."""
        self._conn, self._wal = conn, wal
        self._broken = None
        self._locked = False
        self.needs_reopen = self.suspended = False

    def stats(self) -> dict[str, Any]:
        return {
            "batch_size_bounds": BATCH_SIZE_BOUNDS,
            "batch_size_buckets": list(self._batch_size_buckets),
            "ops_in_batches": self._ops_in_batches,
            "batches_committed": self.batches_committed,
            "ops_committed": self.ops_committed,
            "ops_failed": self.ops_failed,
            "ops_skipped": self.ops_skipped,
            "batches_failed": self.batches_failed,
            "batches_offloaded": self.batches_offloaded,
            "max_batch_size": self.max_batch_size,
            "syncs": self.syncs,
            "checkpoints": self.checkpoints,
        }


def _database_path(conn: sqlite3.Connection) -> str:
    for _, name, path in conn.execute(QUERIES["database_list"]).fetchall():
        if name == "main":
            return str(path)
    raise StorageError("the connection has no main database file")
