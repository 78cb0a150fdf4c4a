"""The PostgreSQL implementation of `awaken.storage.protocol.Store`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from awaken.errors import StorageError
from awaken.storage import redact_url
from awaken.storage.lifecycle.op import Op
from awaken.storage.lifecycle.store import DEFAULT_LEASE_MS, LifecycleStore, Operation
from awaken.storage.postgres.migrate import apply_migrations, latest_version, schema_version
from awaken.storage.postgres.notices import NoticeListener
from awaken.storage.postgres.tx import PgTx
from awaken.storage.postgres.writer import DRIVER_ERRORS, LINGER_S, PARK_S, PgWriter, wrap_error
from awaken.storage.protocol import Notice, Store

T = TypeVar("T")
log = logging.getLogger("awaken.storage.postgres")

CONNECT_TIMEOUT_S = 5.0
STATEMENT_TIMEOUT_S = 15.0
READ_POOL_SIZE = 4
DEADLOCK_TIMEOUT_MS = 100


async def _keep_session(conn: asyncpg.Connection) -> None:
    return None


class PostgresStore(LifecycleStore):
    """awaken's durable state in a PostgreSQL database that any number of nodes share.

    Each node writes through one connection in group-committed batches (writer.py), reads through a
    small pool, and listens for notices from the other nodes (notices.py). Claims are leased to
    the node for `lease_ms`; every write of an attempt is fenced by its epoch.
    `migrate=False` refuses a database whose schema is not the latest (run `awaken migrate`).
    """

    shared = True
    orders_writes = True

    def __init__(
        self,
        url: str,
        *,
        node_id: str | None = None,
        lease_ms: int = DEFAULT_LEASE_MS,
        migrate: bool = True,
        max_batch: int = 128,
        write_connections: int = 16,
        park_s: float = PARK_S,
        linger_s: float = LINGER_S,
    ) -> None:
        super().__init__(node_id=node_id, lease_ms=lease_ms)
        self.url = url
        self.migrate = migrate
        self.version = 0
        self.applied: list[int] = []  # migrations applied by this open
        self._writer = PgWriter(
            self._connect,
            self.node_id,
            lease_ms,
            max_batch=max_batch,
            lanes=write_connections,
            park_s=park_s,
            linger_s=linger_s,
        )
        self._pool: asyncpg.Pool | None = None
        self._listener = NoticeListener(self._connect, self.node_id, self._notice)
        self._open = False
        self._short_deadlock_timeout = True

    def __repr__(self) -> str:
        return f"PostgresStore({redact_url(self.url)!r}, node {self.node_id})"

    # -- life cycle ------------------------------------------------------------------------------
    async def _connect(self) -> asyncpg.Connection:
        conn: asyncpg.Connection = await asyncpg.connect(
            self.url,
            timeout=CONNECT_TIMEOUT_S,
            command_timeout=STATEMENT_TIMEOUT_S,
            statement_cache_size=256,
            server_settings={"application_name": f"awaken-{self.node_id}"},
        )
        # A write connection keeps an empty transaction begun between batches (writer.py): a
        # server-wide idle-in-transaction timeout must not end the session for it.
        await conn.execute("SET idle_in_transaction_session_timeout = 0")
        if self._short_deadlock_timeout:
            try:
                # A deadlock between batches is resolved when it is detected: after 1 s by
                # default, a long stall for a group commit. Superusers may shorten it.
                await conn.execute(f"SET deadlock_timeout = '{DEADLOCK_TIMEOUT_MS}ms'")
            except asyncpg.InsufficientPrivilegeError:
                self._short_deadlock_timeout = False
        return conn

    async def open(self) -> None:
        """Create the database if it is missing, migrate (unless told not to), connect."""
        if self._open:
            raise StorageError("the store is already open")
        try:
            await self._prepare_database()
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=READ_POOL_SIZE,
                timeout=CONNECT_TIMEOUT_S,
                command_timeout=STATEMENT_TIMEOUT_S,
                statement_cache_size=256,
                server_settings={"application_name": f"awaken-{self.node_id}-read"},
                # asyncpg resets a connection when it returns to the pool (RESET ALL, unlisten,
                # ...: a round trip per read). These run single statements and commit what they
                # open; there is no session state to reset.
                reset=_keep_session,
            )
            await self._writer.start()
            await self._listener.start()
        except DRIVER_ERRORS as exc:
            await self._close_parts()
            raise StorageError(f"cannot open {redact_url(self.url)}: {exc}") from exc
        except BaseException:
            await self._close_parts()
            raise
        self._open = True

    async def _prepare_database(self) -> None:
        try:
            conn = await self._connect()
        except asyncpg.InvalidCatalogNameError:
            await self._create_database()
            conn = await self._connect()
        try:
            if self.migrate:
                self.applied = await apply_migrations(conn)
            self.version = await schema_version(conn)
        finally:
            await conn.close()
        if self.version != latest_version():
            raise StorageError(
                f"{redact_url(self.url)} is at schema version {self.version}, and this awaken needs "
                f"{latest_version()}: run `awaken migrate` (or start without --no-migrate)"
            )

    async def _create_database(self) -> None:
        parts = urlsplit(self.url)
        name = parts.path.lstrip("/")
        if not name or '"' in name:
            raise StorageError(f"{redact_url(self.url)} names no usable database")
        admin_url = urlunsplit(parts._replace(path="/postgres"))
        conn = await asyncpg.connect(admin_url, timeout=CONNECT_TIMEOUT_S)
        try:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # another node made it
                await conn.execute(f'CREATE DATABASE "{name}"')
            log.info("created database %s", name)
        finally:
            await conn.close()

    async def close(self) -> None:
        """Commit what is queued, then close every connection. Idempotent."""
        self._open = False
        await self._close_parts()

    async def _close_parts(self) -> None:
        await self._writer.stop()
        await self._listener.stop()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5)
            except DRIVER_ERRORS:
                pool.terminate()

    def stats(self) -> dict[str, Any]:
        return self._writer.stats()

    # -- plumbing --------------------------------------------------------------------------------
    async def _write(
        self, fn: Operation[T], lock_key: str = "", *, heavy: bool = False, early: bool = False
    ) -> T:
        if not self._open:
            raise StorageError("the store is not open")
        result: T = await self._writer.submit(fn, lock_key, early=early)
        return result

    async def settled(self) -> None:
        """At once: PostgreSQL shows a synchronous commit only once its WAL is flushed. Only
        early writes (an invocation's creation by a call) commit asynchronously, and no answer
        rests on them alone (see `create_invocation`)."""

    async def _read(self, fn: Operation[T]) -> T:
        pool = self._pool
        if pool is None or not self._open:
            raise StorageError("the store is not open")
        try:
            async with pool.acquire() as conn:
                result = await fn(Op(PgTx(conn, self.node_id, self.lease_ms)))
        except Exception as exc:
            wrapped = wrap_error(exc)
            if wrapped is exc:
                raise
            raise wrapped from exc
        self._writer.reachable()
        return result

    async def _write_alone(self, fn: Operation[T]) -> T:
        pool = self._pool
        if pool is None or not self._open:
            raise StorageError("the store is not open")
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await fn(Op(PgTx(conn, self.node_id, self.lease_ms)))
        except Exception as exc:
            wrapped = wrap_error(exc)
            if wrapped is exc:
                raise
            raise wrapped from exc

    def _notice(self, notice: Notice) -> None:
        for listener in self._listeners:
            listener(notice)


if TYPE_CHECKING:

    def _implements_protocol(store: PostgresStore) -> Store:
        return store  # mypy checks that PostgresStore implements the Protocol
