"""The sync thread of the SQLite writer (writer.py): it fsyncs the WAL file for the batches the
loop committed (durable mode) and then hands their results back to the loop, and checkpoints the
log into the database file on a connection of its own (see writer.py's docstring).
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from awaken.errors import StorageError
from awaken.storage.sqlite.faults import WalFile
from awaken.storage.sqlite.tx import QUERIES

CHECKPOINT_EVERY_S = 0.02
WAL_FRAME_BYTES = 4096 + 24  # a page and its frame header (the default page size)

Result = tuple["asyncio.Future[Any]", bool, Any]  # (future, ok, value or exception)
SyncItem = tuple[int, list[Result]] | threading.Event | None  # a batch, a reset, the end


# The WAL index (the `-shm` file, https://www.sqlite.org/walformat.html): its header's first copy
# holds the version (3007000), an "initialized" byte and mxFrame, the last valid frame of the log;
# the checkpoint information that follows the two copies starts with nBackfill, the frames already
# copied into the database. Native byte order.
_INDEX_VERSION = struct.Struct("=I")
_INDEX_MX_FRAME = 16
_INDEX_N_BACKFILL = 96
_INDEX_HEADER_BYTES = 100


def frames_to_checkpoint(wal_path: str, index_fd: int) -> int:
    """How many frames of the log are not in the database file yet. From the WAL index (open as
    `index_fd`); if it cannot be read as one, from the size of the WAL file (which never shrinks,
    so then every look finds work)."""
    try:
        header = os.pread(index_fd, _INDEX_HEADER_BYTES, 0)
        if len(header) == _INDEX_HEADER_BYTES and header[12] == 1:
            (version,) = _INDEX_VERSION.unpack_from(header, 0)
            if version == 3007000:
                last: int = _INDEX_VERSION.unpack_from(header, _INDEX_MX_FRAME)[0]
                copied: int = _INDEX_VERSION.unpack_from(header, _INDEX_N_BACKFILL)[0]
                return max(0, last - copied)
    except OSError:
        pass
    return os.stat(wal_path).st_size // WAL_FRAME_BYTES


def resolve_results(results: list[Result]) -> None:
    """Settle each future with its value or exception (one cancelled meanwhile is skipped)."""
    for future, ok, value in results:
        if future.done():  # cancelled while waiting
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class SyncSide:
    """The writer's side that runs on its sync thread, and what hands it batches and waits for
    it on the loop (a mixin of GroupCommitWriter, which owns the state below)."""

    _sync_queue: queue.SimpleQueue[SyncItem]
    _durable: bool
    _wal: WalFile | None
    _broken: StorageError | None
    _loop: asyncio.AbstractEventLoop | None
    _connect: Callable[[], sqlite3.Connection]
    _checkpoint_conn: sqlite3.Connection | None
    _index_fd: int | None  # the WAL index (-shm), read to tell when to checkpoint
    _checkpoint_frames: int
    _restart_frames: int
    _last_checkpoint: float
    syncs: int
    checkpoints: int
    _committed_seq: int  # batches committed so far (on the loop)
    _queued_seq: int  # ... of which handed to the sync thread
    _synced_seq: int  # ... of which on disk
    _early_sync: asyncio.TimerHandle | None  # syncs early batches that nothing covered
    _durable_waiters: list[tuple[int, asyncio.Future[None]]]

    # -- on the loop -------------------------------------------------------------------------------
    def _queue_sync(self, results: list[Result]) -> None:
        self._sync_queue.put((self._committed_seq, results))
        self._queued_seq = self._committed_seq

    def _sync_committed(self) -> None:
        """Have every batch committed so far synced (early ones that no later fsync covered)."""
        if self._early_sync is not None:
            self._early_sync.cancel()
            self._early_sync = None
        if self._durable and self._queued_seq < self._committed_seq:
            self._queue_sync([])

    def durable_barrier(self) -> asyncio.Future[None] | None:
        """None if every transaction committed so far is on disk; else a future that resolves
        when it is. A read that may have seen a commit awaits it before answering, so that
        nothing is shown that a power cut could still take back."""
        seq = self._committed_seq
        if seq <= self._synced_seq:
            return None
        if self._broken is not None:
            raise self._broken
        self._sync_committed()
        assert self._loop is not None
        future: asyncio.Future[None] = self._loop.create_future()
        self._durable_waiters.append((seq, future))
        return future

    def _synced(self, upto: int, results: list[Result], error: StorageError | None) -> None:
        """On the loop: batches up to `upto` are on disk (or could not be synced: `error`)."""
        if error is not None:  # refuse later writes before anyone hears of these failing
            self._fault(str(error), reopen=True)
        self._settle(upto, results, error)

    def _settle(self, upto: int, results: list[Result], error: StorageError | None) -> None:
        resolve_results(results)
        self._synced_seq = max(self._synced_seq, upto)
        waiting, self._durable_waiters = self._durable_waiters, []
        for seq, future in waiting:
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            elif seq <= self._synced_seq:
                future.set_result(None)
            else:
                self._durable_waiters.append((seq, future))

    # -- on the sync thread ------------------------------------------------------------------------
    def _wal_lost(self, upto: int, results: list[Result]) -> None:
        raise NotImplementedError

    def _fault(self, exc: BaseException | str, *, reopen: bool = False) -> None:
        raise NotImplementedError

    def _sync_run(self) -> None:
        stop = False
        try:
            while not stop:
                first = self._sync_queue.get()
                items = [first]
                while True:
                    try:
                        items.append(self._sync_queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(item is None for item in items)
                batches: list[tuple[int, list[Result]]] = []
                for item in items:
                    if isinstance(item, threading.Event):  # after what came before it
                        self._sync_batches(batches)
                        batches = []
                        self._close_checkpoint_conn()
                        item.set()
                    elif item is not None:
                        batches.append(item)
                self._sync_batches(batches)
                if not stop:
                    self._maybe_checkpoint()
        finally:
            self._close_sync_side()

    def _sync_batches(self, batches: list[tuple[int, list[Result]]]) -> None:
        if self._durable and batches:
            self._sync(max(seq for seq, _ in batches), [r for _, rs in batches for r in rs])

    def _sync(self, upto: int, results: list[Result]) -> None:
        broken = self._broken
        lost = False
        if broken is None:
            wal = self._wal
            try:
                assert wal is not None
                wal.fsync()
                self.syncs += 1
                lost = not wal.intact()  # synced into a file that no restart would read
            except OSError as exc:
                # The commits are in the database but may not be on disk. Say so, and refuse
                # every later write until the store reopens: acknowledging one after a failed
                # fsync could acknowledge lost data.
                broken = StorageError(f"the database's write-ahead log could not be synced: {exc}")
                self._broken = broken
        if broken is not None:
            results = [(future, False, broken) for future, _, _ in results]
        loop = self._loop
        assert loop is not None
        try:
            if lost:
                loop.call_soon_threadsafe(self._wal_lost, upto, results)
            else:
                # (one callback: the writer is suspended before a waiter hears of the failure)
                loop.call_soon_threadsafe(self._synced, upto, results, broken)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting

    def _maybe_checkpoint(self) -> None:
        """A PASSIVE checkpoint when the WAL file has grown, at most every CHECKPOINT_EVERY_S; a
        RESTART one when the log still holds `restart_frames` frames (it never caught up)."""
        now = time.monotonic()
        if now - self._last_checkpoint < CHECKPOINT_EVERY_S:
            return
        try:
            wal = self._wal
            if wal is None:
                return
            if self._index_fd is None:
                self._index_fd = os.open(wal.path[: -len("-wal")] + "-shm", os.O_RDONLY)
            if frames_to_checkpoint(wal.path, self._index_fd) < self._checkpoint_frames:
                return
            if not wal.intact():
                return  # a new connection would open another log: the store's recovery saves this one
        except OSError:
            return
        self._last_checkpoint = now
        try:
            conn = self._checkpoint_conn
            if conn is None:
                conn = self._checkpoint_conn = self._connect()
                conn.execute(QUERIES["pragma_synchronous_normal"])
                # A RESTART checkpoint holds the write lock while it waits for readers: wait
                # briefly, and try again later rather than stall the writes.
                conn.execute(QUERIES["pragma_busy_timeout_checkpoint"])
            _, in_log, _ = conn.execute(QUERIES["wal_checkpoint_passive"]).fetchone()
            self.checkpoints += 1
            if int(in_log) >= self._restart_frames:
                conn.execute(QUERIES["wal_checkpoint_restart"]).fetchone()
                self.checkpoints += 1
        except sqlite3.Error:
            pass  # a checkpoint is an optimisation: the next one tries again

    def _close_sync_side(self) -> None:
        if self._wal is not None:
            self._wal.close()
        self._close_checkpoint_conn()

    def _close_checkpoint_conn(self) -> None:
        if self._checkpoint_conn is not None:
            self._checkpoint_conn.close()
            self._checkpoint_conn = None
        if self._index_fd is not None:  # (the store may reopen the database: read it afresh)
            os.close(self._index_fd)
            self._index_fd = None
