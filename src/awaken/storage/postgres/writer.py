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

_Item = tuple[Operation[Any], "asyncio.Future[Any]"]
_Result = tuple["asyncio.Future[Any]", bool, Any]  # (future, ok, value or exception)

BATCH_SIZE_BOUNDS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000)
NOTIFY_PAYLOAD_MAX = 7000  # bytes; PostgreSQL's limit is 8000
NODE_CHANNEL_PREFIX = "awaken_n_"
COMPLETED_CHANNEL = "awaken_done"
RECONNECT_BACKOFF_S = (0.2, 5.0)


def node_channel(node: str) -> str:
    return NODE_CHANNEL_PREFIX + node


def wrap_error(exc: BaseException) -> BaseException:
    """Database and connection errors become StorageError; awaken's own errors (and bugs) pass."""
    if isinstance(exc, AwakenError):
        return exc
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | OSError | TimeoutError):
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


class PgWriter:
    """Owns the node's write connection; runs submitted operations in group-committed batches."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        node: str,
        lease_ms: int,
        *,
        max_batch: int = 128,
    ) -> None:
        self._connect = connect
        self._node = node
        self._lease_ms = lease_ms
        self._max_batch = max_batch
        self._conn: asyncpg.Connection | None = None
        self._pending: list[_Item] = []
        self._task: asyncio.Task[None] | None = None
        self._accepting = False
        self._down_until = 0.0  # writes fail fast until then (the database was unreachable)
        self._down_error: StorageError | None = None
        self._backoff = RECONNECT_BACKOFF_S[0]
        self.batches_committed = 0
        self.ops_committed = 0
        self.ops_failed = 0
        self.ops_skipped = 0
        self.batches_failed = 0
        self.max_batch_size = 0
        self._batch_size_buckets = [0] * (len(BATCH_SIZE_BOUNDS) + 1)
        self._ops_in_batches = 0

    async def start(self) -> None:
        self._conn = await self._connect()
        self._accepting = True

    async def stop(self) -> None:
        """Stop accepting writes; what is queued is committed first."""
        self._accepting = False
        task = self._task
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 5)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                conn.terminate()

    def submit(self, fn: Operation[Any]) -> asyncio.Future[Any]:
        if not self._accepting:
            raise StorageError("the store is closed")
        if self._down_error is not None and time.monotonic() < self._down_until:
            raise self._down_error
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((fn, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="awaken-postgres-writer")
        return future

    # -- the batch loop --------------------------------------------------------------------------
    async def _run(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            items = []
            for item in batch:
                if item[1].cancelled():
                    self.ops_skipped += 1
                else:
                    items.append(item)
            if not items:
                continue
            try:
                conn = await self._connection()
                results = await self._commit(conn, items)
            except Exception as exc:
                self._broken(exc)
                self._fail(items, exc)
                continue
            self._resolve(results)

    async def _connection(self) -> asyncpg.Connection:
        conn = self._conn
        if conn is not None and not conn.is_closed():
            return conn
        self._conn = None
        try:
            conn = await self._connect()
        except Exception as exc:
            self._down(exc)
            raise
        self._conn = conn
        self._down_error = None
        self._backoff = RECONNECT_BACKOFF_S[0]
        log.info("connected to PostgreSQL again")
        return conn

    def _down(self, exc: BaseException) -> None:
        err = StorageError(f"PostgreSQL is unreachable: {exc}")
        err.__cause__ = exc
        self._down_error = err
        self._down_until = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, RECONNECT_BACKOFF_S[1])

    def _broken(self, exc: BaseException) -> None:
        """A batch failed outside the operations: drop the connection (its state is unknown)."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
        log.warning("PostgreSQL write batch failed: %s", exc)

    async def _commit(self, conn: asyncpg.Connection, items: list[_Item]) -> list[_Result]:
        await conn.execute("BEGIN")
        results: list[_Result] = []
        txs: list[PgTx] = []
        for fn, future in items:
            tx = PgTx(conn, self._node, self._lease_ms)
            try:
                value = await fn(Op(tx))
            except Exception:
                await conn.execute("ROLLBACK")
                return await self._commit_isolated(conn, items)
            results.append((future, True, value))
            txs.append(tx)
        await self._finish(conn, txs)
        self._count(results)
        return results

    async def _commit_isolated(self, conn: asyncpg.Connection, items: list[_Item]) -> list[_Result]:
        await conn.execute("BEGIN")
        results: list[_Result] = []
        txs: list[PgTx] = []
        for fn, future in items:
            tx = PgTx(conn, self._node, self._lease_ms)
            await conn.execute("SAVEPOINT op")
            try:
                value = await fn(Op(tx))
            except Exception as exc:
                if isinstance(exc, asyncpg.InterfaceError | OSError | TimeoutError):
                    raise  # the connection broke: the whole batch fails
                await conn.execute("ROLLBACK TO SAVEPOINT op")
                await conn.execute("RELEASE SAVEPOINT op")
                results.append((future, False, wrap_error(exc)))
                continue
            await conn.execute("RELEASE SAVEPOINT op")
            results.append((future, True, value))
            txs.append(tx)
        await self._finish(conn, txs)
        self._count(results)
        return results

    async def _finish(self, conn: asyncpg.Connection, txs: list[PgTx]) -> None:
        """The notices, then COMMIT, in one round trip."""
        script = [*notify_statements(self._node, txs), "COMMIT"]
        await conn.execute(";\n".join(script))

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

    def _fail(self, items: list[_Item], exc: BaseException) -> None:
        self.batches_failed += 1
        self.ops_failed += len(items)
        wrapped = wrap_error(exc)
        for _, future in items:
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
            "ops_committed": self.ops_committed,
            "ops_failed": self.ops_failed,
            "ops_skipped": self.ops_skipped,
            "batches_failed": self.batches_failed,
            "max_batch_size": self.max_batch_size,
            "syncs": self.batches_committed,
            "checkpoints": 0,
        }
