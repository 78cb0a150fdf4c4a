"""Group commit: one thread owns the write connection and commits queued writes in batches.

Callers submit `fn(conn) -> result` with a future of their event loop. The thread blocks for a
first item, drains whatever else is queued, and runs the batch in one `BEGIN IMMEDIATE` ...
`COMMIT` (one fsync), each write inside its own SAVEPOINT: a write that raises is rolled back
alone and gets its exception, its neighbours still commit. Futures are resolved after COMMIT,
with one `call_soon_threadsafe` per event loop and batch.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from awaken.errors import AwakenError, StorageError
from awaken.storage.sqlite.sql import QUERIES

WriteFn = Callable[[sqlite3.Connection], Any]


def wrap_error(exc: BaseException) -> BaseException:
    """sqlite3 errors become StorageError; awaken's own errors (and bugs) pass through."""
    if isinstance(exc, AwakenError) or not isinstance(exc, sqlite3.Error):
        return exc
    err = StorageError(f"sqlite: {exc}")
    err.__cause__ = exc
    return err


@dataclass(slots=True)
class _Op:
    fn: WriteFn
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


_Result = tuple["asyncio.Future[Any]", bool, Any]  # (future, ok, value or exception)
_STOP = object()


def _resolve(results: list[_Result]) -> None:
    # Runs on the callers' event loop.
    for future, ok, value in results:
        if future.done():  # cancelled while waiting
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class GroupCommitWriter:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        setup: Callable[[sqlite3.Connection], object],
        *,
        max_batch: int = 1000,
        name: str = "awaken-sqlite-writer",
    ) -> None:
        self._connect = connect
        self._setup = setup
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Op | object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._accepting = False
        self._lock = threading.Lock()  # orders submits against the stop sentinel
        self.batches_committed = 0
        self.ops_committed = 0
        self.ops_failed = 0  # rolled back alone, or with a failed batch
        self.ops_skipped = 0  # cancelled before they ran
        self.batches_failed = 0
        self.max_batch_size = 0

    # -- caller side -------------------------------------------------------------------------
    def start(self) -> concurrent.futures.Future[None]:
        """Start the thread: it connects and runs `setup` (migrations); the future tells how."""
        self._accepting = True
        self._thread.start()
        return self._ready

    def submit(self, fn: WriteFn) -> asyncio.Future[Any]:
        """Queue a write; the returned future (of the running loop) resolves after its COMMIT."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            if not self._accepting:
                raise StorageError("the store is closed")
            self._queue.put(_Op(fn, future, loop))
        return future

    def stop(self) -> None:
        """Stop accepting writes; the thread commits what is queued, then exits."""
        with self._lock:
            if self._accepting:
                self._accepting = False
                self._queue.put(_STOP)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- writer thread -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            conn = self._connect()
            try:
                self._setup(conn)
            except BaseException:
                conn.close()
                raise
        except BaseException as exc:
            with self._lock:
                self._accepting = False
            self._ready.set_exception(wrap_error(exc))
            return
        self._ready.set_result(None)
        try:
            stop = False
            while not stop:
                item = self._queue.get()
                if item is _STOP:
                    break
                batch: list[_Op] = [item] if isinstance(item, _Op) else []
                while len(batch) < self._max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    if isinstance(item, _Op):
                        batch.append(item)
                self._run_batch(conn, batch)
        finally:
            with self._lock:
                self._accepting = False
            self._fail_leftovers()
            conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Op]) -> None:
        ops: list[_Op] = []
        for op in batch:
            if op.future.cancelled():
                self.ops_skipped += 1
            else:
                ops.append(op)
        if not ops:
            return
        try:
            # Optimistic first: no savepoints (two statements less per write). If a write
            # raises, the transaction is rolled back and the batch runs again, each write in its
            # own savepoint so that the failing one fails alone. Writes are pure functions of the
            # database, so running one twice gives the same result.
            results = self._run_ops(conn, ops, isolate=False)
            if results is None:
                results = self._run_ops(conn, ops, isolate=True)
                assert results is not None
        except BaseException as exc:
            self._abort(conn, ops, exc)
            if not isinstance(exc, Exception):
                raise
            return
        failed = sum(1 for _, ok, _ in results if not ok)
        self.batches_committed += 1
        self.ops_committed += len(results) - failed
        self.ops_failed += failed
        self.max_batch_size = max(self.max_batch_size, len(results))
        self._deliver(ops, results)

    def _run_ops(self, conn: sqlite3.Connection, ops: list[_Op], *, isolate: bool) -> list[_Result] | None:
        """One transaction over `ops`. Without isolation, None as soon as one write raises (the
        transaction is rolled back)."""
        results: list[_Result] = []
        conn.execute(QUERIES["begin_immediate"])
        for op in ops:
            if not isolate:
                try:
                    results.append((op.future, True, op.fn(conn)))
                except Exception:
                    conn.execute(QUERIES["rollback"])
                    return None
                continue
            conn.execute(QUERIES["savepoint"])
            try:
                value = op.fn(conn)
                conn.execute(QUERIES["release_savepoint"])
            except Exception as exc:
                # Undo this write alone. If SQLite already rolled the whole transaction back
                # (I/O error, disk full), the rollback fails: the batch fails as a whole.
                conn.execute(QUERIES["rollback_to_savepoint"])
                conn.execute(QUERIES["release_savepoint"])
                results.append((op.future, False, wrap_error(exc)))
            else:
                results.append((op.future, True, value))
        conn.execute(QUERIES["commit"])
        return results

    def _abort(self, conn: sqlite3.Connection, ops: list[_Op], exc: BaseException) -> None:
        try:
            if conn.in_transaction:
                conn.execute(QUERIES["rollback"])
        except sqlite3.Error:
            pass
        self.batches_failed += 1
        self.ops_failed += len(ops)
        results: list[_Result] = []
        for op in ops:
            err = StorageError(f"the write transaction failed: {exc}")
            err.__cause__ = exc
            results.append((op.future, False, err))
        self._deliver(ops, results)

    def _deliver(self, ops: list[_Op], results: list[_Result]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Result]] = {}
        for op, result in zip(ops, results, strict=True):
            by_loop.setdefault(op.loop, []).append(result)
        for loop, loop_results in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, loop_results)
            except RuntimeError:
                pass  # the caller's loop is closed: nobody is waiting

    def _fail_leftovers(self) -> None:
        leftovers: list[_Op] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Op):
                leftovers.append(item)
        if leftovers:
            error = StorageError("the store is closed")
            self._deliver(leftovers, [(op.future, False, error) for op in leftovers])

    def stats(self) -> dict[str, int]:
        return {
            "batches_committed": self.batches_committed,
            "ops_committed": self.ops_committed,
            "ops_failed": self.ops_failed,
            "ops_skipped": self.ops_skipped,
            "batches_failed": self.batches_failed,
            "max_batch_size": self.max_batch_size,
        }
