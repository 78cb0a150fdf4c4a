"""What a dialect provides for one transaction (`Tx`), and one operation of the rules on it (`Op`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from awaken.storage.protocol import Effects

Params = Mapping[str, Any]


class Row(Protocol):
    """A result row: by column name (sqlite3.Row and asyncpg.Record both are)."""

    def __getitem__(self, key: Any) -> Any: ...


class Tx(Protocol):
    """One transaction of a dialect: queries by name (from its queries.sql), rows out.

    `node` is the id of the engine this store serves: claims made in the transaction are leased to
    it for `lease_ms`. `send` and `announce` queue messages to other nodes; a dialect with other
    nodes delivers them when (and only if) the transaction commits."""

    node: str
    lease_ms: int

    def has(self, query: str) -> bool:
        """Whether the dialect supplies `query`: the rules use a compound query (one round trip
        for what takes several elsewhere) only where its dialect has it."""

    async def one(self, query: str, params: Params | None = None) -> Row | None: ...

    async def all(self, query: str, params: Params | None = None) -> Sequence[Row]: ...

    async def run(self, query: str, params: Params | None = None) -> int:
        """Execute; the number of rows it changed."""

    async def run_many(self, query: str, rows: Sequence[Params]) -> None:
        """Execute once per parameter set."""

    def send(self, node: str, notice: str) -> None:
        """A notice for one node (a completion for an attempt it runs, a cancellation...)."""

    def announce(self, invocation_id: str) -> None:
        """An invocation completed: nodes with callers waiting on it answer them."""


COMPOUND_QUERIES = frozenset({"complete_fenced_with_entry"})
"""Queries a dialect may leave out (`Tx.has`): they save round trips where statements cost one."""


class Op:
    """One Store operation in one transaction: the Tx, and what the operation created that the
    engine must know (the earliest new timer)."""

    __slots__ = ("min_timer", "tx")

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.min_timer: int | None = None

    async def scalar(self, query: str, params: Params | None = None) -> Any:
        row = await self.tx.one(query, params)
        return None if row is None else row[0]

    def timer_created(self, fire_at: int) -> None:
        if self.min_timer is None or fire_at < self.min_timer:
            self.min_timer = fire_at

    def finish(self, effects: Effects) -> Effects:
        """The effects, with the earliest timer this operation created."""
        if effects.next_timer_ms == self.min_timer:
            return effects
        # (direct construction: dataclasses.replace costs several times more on this hot path)
        return Effects(effects.claims, effects.deliveries, effects.completed, self.min_timer, effects.cancels)
