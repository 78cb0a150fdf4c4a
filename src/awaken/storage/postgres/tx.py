"""The PostgreSQL side of the lifecycle rules: named queries turned into asyncpg's positional
form, and a `Tx` on one connection that collects the notices its operation sends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from awaken.storage.lifecycle.op import Params, Row
from awaken.storage.sql import PARAMETER, load_queries, parameters


@dataclass(frozen=True, slots=True)
class Query:
    sql: str  # with $1, $2, ... in place of :name
    names: tuple[str, ...]  # the named parameter of each position

    def args(self, params: Params | None) -> list[Any]:
        if not self.names:
            return []
        assert params is not None, f"query needs parameters {self.names}"
        return [params[name] for name in self.names]


def compile_query(statement: str) -> Query:
    names = parameters(statement)
    position = {name: i + 1 for i, name in enumerate(names)}
    sql = PARAMETER.sub(lambda m: f"${position[m.group(1)]}", statement)
    return Query(sql, tuple(names))


QUERIES: dict[str, Query] = {
    name: compile_query(sql) for name, sql in load_queries("awaken.storage.postgres").items()
}


def rowcount(status: str) -> int:
    """The row count of a command status ("INSERT 0 1", "UPDATE 3", "SELECT 2")."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PgTx:
    """A `Tx` (lifecycle/op.py) on a connection: inside the writer's batch transaction, or for a
    read. Notices queue in `sent` and `announced`; the writer sends those of operations that
    commit, in the same transaction (NOTIFY is delivered at commit)."""

    __slots__ = ("announced", "conn", "lease_ms", "node", "sent")

    def __init__(self, conn: asyncpg.Connection | PoolConnectionProxy, node: str, lease_ms: int) -> None:
        self.conn = conn
        self.node = node
        self.lease_ms = lease_ms
        self.sent: list[tuple[str, str]] = []
        self.announced: list[str] = []

    def has(self, query: str) -> bool:
        return query in QUERIES

    async def one(self, query: str, params: Params | None = None) -> Row | None:
        q = QUERIES[query]
        row: Row | None = await self.conn.fetchrow(q.sql, *q.args(params))
        return row

    async def all(self, query: str, params: Params | None = None) -> Sequence[Row]:
        q = QUERIES[query]
        rows: Sequence[Row] = await self.conn.fetch(q.sql, *q.args(params))
        return rows

    async def run(self, query: str, params: Params | None = None) -> int:
        q = QUERIES[query]
        return rowcount(await self.conn.execute(q.sql, *q.args(params)))

    async def run_many(self, query: str, rows: Sequence[Params]) -> None:
        q = QUERIES[query]
        if len(rows) == 1:
            await self.conn.execute(q.sql, *q.args(rows[0]))
        else:
            await self.conn.executemany(q.sql, [q.args(r) for r in rows])

    def send(self, node: str, notice: str) -> None:
        self.sent.append((node, notice))

    def announce(self, invocation_id: str) -> None:
        self.announced.append(invocation_id)
