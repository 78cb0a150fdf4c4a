"""select / gather / wait_completed / as_completed over durable futures.

Which futures had completed when a combinator returned is journaled (a WAIT entry), so a
replay takes the same branch even if more completions have arrived since.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from awaken.errors import TerminalError
from awaken.sdk.context import RestateDurableFuture
from awaken.sdk.futures import DurableFuture
from awaken.sdk.journal_context import JournalContext


def _context_of(futures: Sequence[RestateDurableFuture[Any]]) -> JournalContext:
    ctx: JournalContext | None = None
    for f in futures:
        if not isinstance(f, DurableFuture):
            raise TerminalError("all futures must be created by an awaken context")
        if ctx is None:
            ctx = f.ctx
        elif ctx is not f.ctx:
            raise TerminalError("all futures must be created by the same context")
    assert ctx is not None
    return ctx


async def gather(*futures: RestateDurableFuture[Any]) -> list[RestateDurableFuture[Any]]:
    """Wait until all futures are complete; returns them (await each for its value)."""
    items = list(futures)
    if items:
        await _context_of(items).wait_all([f for f in items if isinstance(f, DurableFuture)])
    return items


async def wait_completed(
    *futures: RestateDurableFuture[Any],
) -> tuple[list[RestateDurableFuture[Any]], list[RestateDurableFuture[Any]]]:
    """Wait until at least one future is complete; returns (completed, pending)."""
    items = list(futures)
    if not items:
        return [], []
    ctx = _context_of(items)
    done = set(await ctx.wait_completed([f for f in items if isinstance(f, DurableFuture)]))
    completed: list[RestateDurableFuture[Any]] = [
        f for f in items if isinstance(f, DurableFuture) and f.index in done
    ]
    pending = [f for f in items if not (isinstance(f, DurableFuture) and f.index in done)]
    return completed, pending


async def as_completed(*futures: RestateDurableFuture[Any]) -> AsyncIterator[RestateDurableFuture[Any]]:
    """Yield the futures as they complete."""
    remaining = list(futures)
    while remaining:
        completed, remaining = await wait_completed(*remaining)
        for f in completed:
            yield f


async def select(**futures: RestateDurableFuture[Any]) -> list[Any]:
    """`[name, value]` of the first future to complete; raises if that one failed."""
    if not futures:
        raise ValueError("select needs at least one future")
    by_future = {id(f): name for name, f in futures.items()}
    completed, _ = await wait_completed(*futures.values())
    first = completed[0]
    return [by_future[id(first)], await first]
