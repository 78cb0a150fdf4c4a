"""Group commit on PostgreSQL: the operations of concurrent invocations share one transaction on
the node's write connection.

Operations submitted while a batch runs form the next batch, so batches grow with the load and a
lone write waits for no one. A batch first runs optimistically, every operation straight in the
transaction; if one raises (a domain error such as a stale epoch, or a database error), the
transaction is rolled back and the batch runs again with each operation in its own savepoint, so
that the failing one fails alone (operations are functions of the database: running one twice
gives the same result). The notices of the operations that commit are sent in the same
transaction, with its COMMIT: NOTIFY is delivered only if, and when, the transaction commits.

A broken connection fails the writes of the batch in flight (the transaction is gone: none of it
was applied, or, if the COMMIT itself was lost, all of it) with StorageError, and the next batch
connects again. While the database is unreachable, writes fail fast for a short back-off instead
of each waiting for a connection timeout.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from awaken.errors import AwakenError, StorageError
from awaken.storage.lifecycle.op import Op
from awaken.storage.lifecycle.store import Operation
from awaken.storage.postgres.tx import PgTx

log = logging.getLogger("awaken.storage.postgres")

_Result = tuple["asyncio.Future[Any]", bool, Any]  # (future, ok, value or exception)
DEADLOCK_RETRIES = 5  # a write that lost a deadlock (or a serialization conflict) goes again


def commit_script(notices: list[str], *, early: bool, chain: bool) -> str:
    """What ends a batch's transaction, sent as one query: its notices, COMMIT (not waiting for
    the WAL flush if the batch is `early`), and the next batch's BEGIN if `chain`."""
    script = [*notices, *(["SET LOCAL synchronous_commit TO off"] if early else []), "COMMIT"]
    if chain:
        script.append("BEGIN")
    return ";\n".join(script)


class _Write:
    """A submitted write: its operation, its future, the invocation it locks first."""

    __slots__ = ("early", "fn", "future", "lock_key", "tries")

    def __init__(
        self, fn: Operation[Any], future: asyncio.Future[Any], lock_key: str, early: bool = False
    ) -> None:
        self.fn = fn
        self.future = future
        self.lock_key = lock_key
        self.early = early  # it may be answered before its commit is flushed to disk
        self.tries = 0


def _lock_order(write: _Write) -> str:
    return write.lock_key


def _lost_a_conflict(exc: BaseException) -> bool:
    return isinstance(exc, asyncpg.DeadlockDetectedError | asyncpg.SerializationError)


BATCH_SIZE_BOUNDS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000)
NOTIFY_PAYLOAD_MAX = 7000  # bytes; PostgreSQL's limit is 8000
NODE_CHANNEL_PREFIX = "awaken_n_"
COMPLETED_CHANNEL = "awaken_done"
RECONNECT_BACKOFF_S = (0.2, 5.0)
PARK_S = 0.05  # how long a lane keeps a begun transaction open for the next batch
LINGER_S = 0.005  # how long a write waits for a busy lane before another lane starts for it
NEAR_LANES = 4  # lanes used while the database answers fast
# A round trip to the database (the least of a few `SELECT 1` on each new write connection, over
# the last FAR_WINDOW connections) past which it counts as far: batches are then spread over up to
# `lanes` connections. Measured on quiet connections rather than from batches: a batch's time
# also counts row locks and a busy event loop, which say nothing of the network.
FAR_RTT_S = 0.0005
FAR_WINDOW = 8
RTT_PROBES = 3


def node_channel(node: str) -> str:
    return NODE_CHANNEL_PREFIX + node


# What the driver raises when the database or the connection fails (InternalClientError: a
# connection left in a broken state by a failure, such as the server restarting mid-query).
DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions._base.InternalClientError,
    OSError,
    TimeoutError,
)


def wrap_error(exc: BaseException) -> BaseException:
    """Database and connection errors become StorageError; awaken's own errors (and bugs) pass."""
    if isinstance(exc, AwakenError):
        return exc
    if isinstance(exc, DRIVER_ERRORS):
        err = StorageError(f"postgresql: {type(exc).__name__}: {exc}")
        err.__cause__ = exc
        return err
    return exc


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _chunks(parts: list[str], sep: str, prefix: str = "") -> list[str]:
    """Join parts into payloads under the NOTIFY size limit."""
    out: list[str] = []
    current: list[str] = []
    size = len(prefix)
    for part in parts:
        if current and size + len(sep) + len(part) > NOTIFY_PAYLOAD_MAX:
            out.append(prefix + sep.join(current))
            current, size = [], len(prefix)
        current.append(part)
        size += len(part) + len(sep)
    if current:
        out.append(prefix + sep.join(current))
    return out


def notify_statements(node: str, txs: list[PgTx]) -> list[str]:
    """The NOTIFY statements of committed operations: one per addressed node, one for the
    invocations that completed (with the sender, so that it can skip its own)."""
    by_node: dict[str, list[str]] = {}
    completed: list[str] = []
    for tx in txs:
        for target, notice in tx.sent:
            by_node.setdefault(target, []).append(notice)
        completed.extend(tx.announced)
    statements = []
    for target, notices in by_node.items():
        for payload in _chunks(notices, "\n"):
            statements.append(f"SELECT pg_notify({_literal(node_channel(target))}, {_literal(payload)})")
    for payload in _chunks(completed, ",", prefix=node + " "):
        statements.append(f"SELECT pg_notify({_literal(COMPLETED_CHANNEL)}, {_literal(payload)})")
    return statements


class _Lane:
    """One write connection and the task that runs batches on it.

    A lane that commits while it has work in prospect ends its transaction and begins the next
    in one round trip (`COMMIT; BEGIN`), then parks for up to `PARK_S` with that empty
    transaction open: the next batch's first statement needs no BEGIN of its own. Nothing is
    held meanwhile (READ COMMITTED takes its snapshot, its locks and its transaction id only at
    the first statement); a lane that parks in vain ends the empty transaction and goes idle."""

    __slots__ = ("begun", "conn", "parked", "task")

    def __init__(self) -> None:
        self.conn: asyncpg.Connection | None = None
        self.task: asyncio.Task[None] | None = None
        self.begun = False  # a transaction is open on conn, with no statement in it yet
        self.parked: asyncio.Future[bool] | None = None  # while the lane waits: True if woken for work

    @property
    def idle(self) -> bool:
        return self.task is None or self.task.done()

    @property
    def waiting(self) -> bool:
        return self.parked is not None and not self.parked.done()

    def unpark(self, for_work: bool = False) -> None:
        if self.parked is not None and not self.parked.done():
            self.parked.set_result(for_work)


class PgWriter:
    """Owns the node's write connections; runs submitted operations in group-committed batches.

    Each statement costs a round trip, so one connection can run out of round trips before
    PostgreSQL or the node run out of CPU (sooner when the database is across a network):
    `lanes` connections run batches side by side. But every batch is a transaction, and a
    transaction costs both sides a round trip and PostgreSQL a commit, so lanes are added only
    when needed: a write goes out at once when no lane is busy; one that arrives while a lane is
    busy waits for that lane's next batch, and another lane starts for it only if it has waited
    `linger_s` (or if more than a batch is queued). A batch's COMMIT also begins the next
    transaction (see `_Lane`), so a batch costs one round trip plus those of its statements.

    That policy saves transactions where round trips are cheap (the database on the same host or
    rack), and it uses `NEAR_LANES` connections at most. Where they are not (a round trip of a
    millisecond or more, across a network), a batch's statements one after the other make every
    write wait for the whole batch, and throughput is the lanes' round trips: when a round trip
    takes more than `FAR_RTT_S`, the writer counts the database as far, writes go out at once on
    a free lane, and what is queued is shared among the free lanes (up to `lanes`) instead of
    going as one batch.
    """

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        node: str,
        lease_ms: int,
        *,
        max_batch: int = 128,
        lanes: int = 16,
        park_s: float = PARK_S,
        linger_s: float = LINGER_S,
    ) -> None:
        if lanes < 1:
            raise ValueError("a writer needs at least one lane")
        self._connect = connect
        self._node = node
        self._lease_ms = lease_ms
        self._max_batch = max_batch
        self._park_s = park_s
        self._linger_s = linger_s
        self._lingering: asyncio.TimerHandle | None = None
        self._lanes = [_Lane() for _ in range(lanes)]
        self._rtt_s: collections.deque[float] = collections.deque(maxlen=FAR_WINDOW)  # by connection
        # Set when a round trip is measured (a new connection), read on every write:
        self.far = False  # the round trips are long enough (a database across a network) to spread writes
        self._usable = self._lanes[:NEAR_LANES]  # the lanes batches may use
        self._pending: list[_Write] = []
        self._starting = 0  # lanes woken that have not taken their share yet
        self._accepting = False
        self._down_until = 0.0  # writes fail fast until then (the database was unreachable)
        self._down_error: StorageError | None = None
        self._backoff = RECONNECT_BACKOFF_S[0]
        self.batches_committed = 0
        self.batches_chained = 0  # run in the transaction the previous batch's commit began
        self.ops_committed = 0
        self.ops_failed = 0
        self.ops_skipped = 0
        self.ops_retried = 0  # went again after losing a deadlock
        self.batches_failed = 0
        self.max_batch_size = 0
        self._batch_size_buckets = [0] * (len(BATCH_SIZE_BOUNDS) + 1)
        self._ops_in_batches = 0

    async def start(self) -> None:
        self._lanes[0].conn = await self._connect()  # the first connection must work
        await self._measure(self._lanes[0].conn)
        self._accepting = True

    async def _measure(self, conn: asyncpg.Connection) -> None:
        """A new connection's round trip (see FAR_RTT_S)."""
        best = float("inf")
        for _ in range(RTT_PROBES):
            started = time.monotonic()
            await conn.fetchval("SELECT 1")
            best = min(best, time.monotonic() - started)
        self._rtt_s.append(best)
        self.far = min(self._rtt_s) > FAR_RTT_S
        self._usable = self._lanes if self.far else self._lanes[:NEAR_LANES]

    async def stop(self) -> None:
        """Stop accepting writes; what is queued is committed first."""
        self._accepting = False
        for lane in self._lanes:
            lane.unpark()
        tasks = [lane.task for lane in self._lanes if lane.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for lane in self._lanes:
            conn, lane.conn = lane.conn, None
            if conn is not None:
                try:
                    await asyncio.wait_for(conn.close(), 5)
                except DRIVER_ERRORS:
                    conn.terminate()

    def submit(self, fn: Operation[Any], lock_key: str = "", *, early: bool = False) -> asyncio.Future[Any]:
        """Queue a write; its future resolves once its batch is committed. A batch of `early`
        writes only commits without waiting for PostgreSQL to flush its WAL
        (`synchronous_commit = off` for that transaction): the next synchronous commit flushes it
        with its own (the WAL is flushed in order)."""
        if not self._accepting:
            raise StorageError("the store is closed")
        if self._down_error is not None and time.monotonic() < self._down_until:
            raise self._down_error
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append(_Write(fn, future, lock_key, early))
        if self._starting:
            pass  # a lane about to start takes this too
        elif self._busy():
            if self.far and self._free_lanes():
                self._wake_lane()  # round trips, not transactions, are what is short
            else:
                self._linger()  # the busy lane takes it with its next batch, unless it is slow
        else:
            self._wake_lane()
        return future

    def _busy(self) -> bool:
        return any(not (lane.idle or lane.waiting) for lane in self._lanes)

    def _free_lanes(self) -> int:
        return sum(1 for lane in self._usable if lane.idle or lane.waiting)

    def _linger(self) -> None:
        if self._lingering is None:
            self._lingering = asyncio.get_running_loop().call_later(self._linger_s, self._lingered)

    def _lingered(self) -> None:
        self._lingering = None
        if self._pending and not self._starting:
            self._wake_lane()

    def _wake_lane(self) -> None:
        """Wake a parked lane (its transaction is begun already), else start an idle one."""
        lanes = self._usable
        for lane in lanes:
            if lane.waiting:
                self._starting += 1
                lane.unpark(for_work=True)
                return
        for lane in lanes:
            if lane.idle:
                self._starting += 1
                lane.task = asyncio.get_running_loop().create_task(
                    self._run(lane), name="awaken-postgres-writer"
                )
                return

    # -- the batch loops -------------------------------------------------------------------------
    async def _run(self, lane: _Lane) -> None:
        self._starting -= 1
        while True:
            await self._batches(lane)
            if not lane.begun:
                return
            if self._accepting and await self._park(lane):
                continue
            # Parked in vain (or stopping): end the empty transaction, go idle.
            lane.begun = False
            conn = lane.conn
            if conn is not None:
                try:
                    await conn.execute("ROLLBACK")
                except Exception as exc:
                    self._broken(lane, exc)
            if not self._pending:
                return

    async def _park(self, lane: _Lane) -> bool:
        """Wait up to `park_s` for work; True if a submit woke this lane for it."""
        loop = asyncio.get_running_loop()
        parked: asyncio.Future[bool] = loop.create_future()
        lane.parked = parked
        timer = loop.call_later(self._park_s, lane.unpark)
        try:
            woken = await parked
        finally:
            timer.cancel()
            lane.parked = None
        if woken:
            self._starting -= 1  # the waker counted this lane as starting
        return woken

    async def _batches(self, lane: _Lane) -> None:
        while self._pending:
            take = self._max_batch
            if self.far:  # a share of what waits; the free lanes take the rest
                take = min(take, -(-len(self._pending) // (self._free_lanes() + 1)))
            batch, self._pending = self._pending[:take], self._pending[take:]
            if self._pending and not self._starting:
                self._wake_lane()  # more than a batch waits: the rest goes out beside this one
            items = []
            for item in batch:
                if item.future.cancelled():
                    self.ops_skipped += 1
                else:
                    items.append(item)
            if not items:
                continue
            # Every transaction takes its row locks in one order (by the invocation each write
            # locks first; a stable sort keeps arrival order among writes of one invocation), so
            # that batches running at once, here or on other nodes, do not deadlock each other.
            items.sort(key=_lock_order)
            try:
                conn = await self._connection(lane)
                results = await self._commit(lane, conn, items)
            except Exception as exc:
                self._broken(lane, exc)
                self._fail(items, exc)
                continue
            self._resolve(results)

    async def _connection(self, lane: _Lane) -> asyncpg.Connection:
        conn = lane.conn
        if conn is not None and not conn.is_closed():
            return conn
        lane.conn = None
        lane.begun = False
        try:
            conn = await self._connect()
            await self._measure(conn)
        except Exception as exc:
            self._down(exc)
            raise
        lane.conn = conn
        if self._down_error is not None:
            log.info("connected to PostgreSQL again")
        self._down_error = None
        self._backoff = RECONNECT_BACKOFF_S[0]
        return conn

    def reachable(self) -> None:
        """The database answered another connection: writes need not fail fast any longer (the
        next one connects again at once)."""
        self._down_until = 0.0

    def _down(self, exc: BaseException) -> None:
        err = StorageError(f"PostgreSQL is unreachable: {exc}")
        err.__cause__ = exc
        self._down_error = err
        self._down_until = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, RECONNECT_BACKOFF_S[1])

    def _broken(self, lane: _Lane, exc: BaseException) -> None:
        """A batch failed outside the operations: drop the connection (its state is unknown)."""
        conn, lane.conn = lane.conn, None
        lane.begun = False
        if conn is not None and not conn.is_closed():
            conn.terminate()
        log.warning("PostgreSQL write batch failed: %s", exc)

    async def _commit(self, lane: _Lane, conn: asyncpg.Connection, items: list[_Write]) -> list[_Result]:
        if lane.begun:
            lane.begun = False  # the statements below use it
            self.batches_chained += 1
        else:
            await conn.execute("BEGIN")
        results: list[_Result] = []
        txs: list[PgTx] = []
        for item in items:
            tx = PgTx(conn, self._node, self._lease_ms)
            try:
                value = await item.fn(Op(tx))
            except Exception:
                await conn.execute("ROLLBACK")
                return await self._commit_isolated(lane, conn, items)
            results.append((item.future, True, value))
            txs.append(tx)
        await self._finish(lane, conn, txs, early=all(item.early for item in items))
        self._count(results)
        return results

    async def _commit_isolated(
        self, lane: _Lane, conn: asyncpg.Connection, items: list[_Write]
    ) -> list[_Result]:
        await conn.execute("BEGIN")
        results: list[_Result] = []
        txs: list[PgTx] = []
        for item in items:
            tx = PgTx(conn, self._node, self._lease_ms)
            await conn.execute("SAVEPOINT op")
            try:
                value = await item.fn(Op(tx))
            except Exception as exc:
                if isinstance(exc, DRIVER_ERRORS) and not isinstance(exc, asyncpg.PostgresError):
                    raise  # the connection broke: the whole batch fails
                await conn.execute("ROLLBACK TO SAVEPOINT op")
                await conn.execute("RELEASE SAVEPOINT op")
                if _lost_a_conflict(exc) and item.tries < DEADLOCK_RETRIES:
                    item.tries += 1
                    self.ops_retried += 1
                    self._pending.append(item)  # nothing of it was applied: it goes again
                    continue
                results.append((item.future, False, wrap_error(exc)))
                continue
            await conn.execute("RELEASE SAVEPOINT op")
            results.append((item.future, True, value))
            txs.append(tx)
        await self._finish(lane, conn, txs, early=all(item.early for item in items))
        self._count(results)
        return results

    async def _finish(
        self, lane: _Lane, conn: asyncpg.Connection, txs: list[PgTx], *, early: bool = False
    ) -> None:
        """The notices, then COMMIT, then the next batch's BEGIN, in one round trip."""
        chain = self._accepting
        await conn.execute(commit_script(notify_statements(self._node, txs), early=early, chain=chain))
        lane.begun = chain

    # -- results ---------------------------------------------------------------------------------
    def _count(self, results: list[_Result]) -> None:
        failed = sum(1 for _, ok, _ in results if not ok)
        self.batches_committed += 1
        self.ops_committed += len(results) - failed
        self.ops_failed += failed
        self.max_batch_size = max(self.max_batch_size, len(results))
        self._batch_size_buckets[bisect.bisect_left(BATCH_SIZE_BOUNDS, len(results))] += 1
        self._ops_in_batches += len(results)

    @staticmethod
    def _resolve(results: list[_Result]) -> None:
        for future, ok, value in results:
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _fail(self, items: list[_Write], exc: BaseException) -> None:
        self.batches_failed += 1
        self.ops_failed += len(items)
        wrapped = wrap_error(exc)
        for future in (item.future for item in items):
            if future.done():
                continue
            if isinstance(wrapped, StorageError):
                err = StorageError(f"the write transaction failed: {wrapped}")
                err.__cause__ = exc
                future.set_exception(err)
            else:
                future.set_exception(wrapped)

    def stats(self) -> dict[str, Any]:
        return {
            "batch_size_bounds": BATCH_SIZE_BOUNDS,
            "batch_size_buckets": list(self._batch_size_buckets),
            "ops_in_batches": self._ops_in_batches,
            "batches_committed": self.batches_committed,
            "batches_chained": self.batches_chained,
            "ops_committed": self.ops_committed,
            "ops_failed": self.ops_failed,
            "ops_skipped": self.ops_skipped,
            "ops_retried": self.ops_retried,
            "batches_failed": self.batches_failed,
            "max_batch_size": self.max_batch_size,
            "rtt_ms": round(min(self._rtt_s, default=0.0) * 1000, 3),
            "far": self.far,
            "lanes_connected": sum(1 for lane in self._lanes if lane.conn is not None),
            "syncs": self.batches_committed,
            "checkpoints": 0,
        }
