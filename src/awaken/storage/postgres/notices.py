"""Notices from other nodes: a LISTEN connection for this node's channel and for completions,
kept connected; each message becomes `Notice`s for the engine.

Notices make cross-node hand-offs fast; they are not what makes them happen: when the listening
connection breaks, notices sent meanwhile are lost, so the listener reports RESYNC once it is back
and the engine checks by polling what it may have missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from awaken.storage.lifecycle import notices
from awaken.storage.postgres.writer import COMPLETED_CHANNEL, DRIVER_ERRORS, RECONNECT_BACKOFF_S, node_channel
from awaken.storage.protocol import Notice, NoticeKind

log = logging.getLogger("awaken.storage.postgres")


def parse_completed_payload(payload: str, own_node: str) -> list[Notice]:
    """`<sender> id,id,...`: the sender's own completions are not news to it."""
    sender, _, ids = payload.partition(" ")
    if sender == own_node or not ids:
        return []
    return [Notice(NoticeKind.COMPLETED, invocation_id) for invocation_id in ids.split(",")]


class NoticeListener:
    """Keeps a LISTEN connection open and hands every notice to `deliver` (on the loop)."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        node: str,
        deliver: Callable[[Notice], None],
    ) -> None:
        self._connect = connect
        self._node = node
        self._deliver = deliver
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self.connected = asyncio.Event()

    async def start(self) -> None:
        await self._listen()  # the first connection must work: a bad URL fails start-up
        self._task = asyncio.get_running_loop().create_task(
            self._supervise(), name="awaken-postgres-listener"
        )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def _listen(self) -> None:
        conn = await self._connect()
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(node_channel(self._node), self._on_node)
        await conn.add_listener(COMPLETED_CHANNEL, self._on_completed)
        self._conn = conn
        self._lost = lost
        self.connected.set()

    async def _supervise(self) -> None:
        backoff = RECONNECT_BACKOFF_S[0]
        while True:
            conn = self._conn
            if conn is not None:
                # A broken TCP connection may not report itself: ask now and then.
                while not self._lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._lost.wait(), 5)
                    if not self._lost.is_set():
                        try:
                            await asyncio.wait_for(conn.execute("SELECT 1"), 5)
                        except DRIVER_ERRORS:
                            break
                self.connected.clear()
                conn.terminate()
                self._conn = None
                log.warning("lost the PostgreSQL notice connection; reconnecting")
            try:
                await self._listen()
            except DRIVER_ERRORS as exc:
                log.debug("notice connection: %s; retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_BACKOFF_S[1])
                continue
            backoff = RECONNECT_BACKOFF_S[0]
            self._deliver(Notice(NoticeKind.RESYNC))  # what was sent meanwhile is lost

    def _on_node(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        for notice in notices.parse(str(payload)):
            self._deliver(notice)

    def _on_completed(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        for notice in parse_completed_payload(str(payload), self._node):
            self._deliver(notice)
