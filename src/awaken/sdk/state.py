"""The context's state (virtual objects and workflows) and a workflow's durable promises.

Reads of large values are journaled by reference and read when awaited (`StateRead`); a write
after such a read keeps what the read saw.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from awaken.core.journal import LARGE_VALUE, EntryKind, Outcome
from awaken.errors import TerminalError
from awaken.sdk.context import DurablePromise
from awaken.sdk.futures import DurablePromiseImpl, Ready, StateRead
from awaken.sdk.guards import entry_name_data
from awaken.sdk.journal_context import JournalContext
from awaken.sdk.serde import DefaultSerde, Serde, resolve_serde

T = TypeVar("T")


class StateActions(JournalContext):
    """State reads and writes, and durable promises, of the context."""

    # -- state -------------------------------------------------------------------------------
    def key(self) -> str:
        if self._key is None:
            raise TerminalError("key() is only available in virtual objects and workflows", 500)
        return self._key

    def _require_keyed(self, write: bool) -> None:
        if self._key is None:
            raise TerminalError("state is only available in virtual objects and workflows", 500)
        if write and not self.spec.exclusive:
            raise TerminalError("shared handlers can only read state", 500)

    def get(
        self,
        name: str,
        serde: Serde[T] = DefaultSerde(),
        type_hint: type[T] | None = None,
        entry_name: str | None = None,
    ) -> Awaitable[T | None]:
        """The value of `name`, journaled here. A value larger than LARGE_VALUE is journaled as a
        reference (exclusive handlers hold the key, so the state they read is theirs) and, if it
        was not loaded with the attempt, read from the store when awaited."""
        self._require_keyed(write=False)
        decode = resolve_serde(serde, type_hint).deserialize
        if self.machine.replaying:
            entry = self._step(EntryKind.GET_STATE, name)
            if entry.data.get("ref"):
                self._ref_gets.setdefault(name, []).append(entry.index)
                return StateRead(self, entry.index, name, decode, self._state.get(name), True)
            if entry.outcome is None:  # a shared handler's read that never finished
                return StateRead(self, entry.index, name, decode, None, False)
            raw = entry.outcome.value
            return Ready(None if raw is None else decode(raw))
        known = name not in self._lazy
        raw = self._state.get(name) if known else None
        by_ref = self.spec.exclusive and not (known and (raw is None or len(raw) <= LARGE_VALUE))
        named = entry_name_data(entry_name)
        if by_ref:
            data = {"ref": True, **(named or {})}
            entry = self._step(EntryKind.GET_STATE, name, data=data, outcome=Outcome())
            self._ref_gets.setdefault(name, []).append(entry.index)
            return StateRead(self, entry.index, name, decode, raw, True)
        if not known:  # a shared handler: its reads are not its own, so they are recorded
            entry = self._step(EntryKind.GET_STATE, name, data=named)  # its outcome comes with the read
            return StateRead(self, entry.index, name, decode, None, False)
        self._step(EntryKind.GET_STATE, name, outcome=Outcome(raw), data=named)
        return Ready(None if raw is None else decode(raw))

    async def read_state(self, read: StateRead[Any]) -> bytes | None:
        """The value a GET_STATE entry read (see StateRead)."""
        name = read.name
        if read.writes_before == self._writes and name not in self._lazy:
            return self._state.get(name)
        if read.writes_before == self._writes:
            raw = await self.driver.read_state(name)
            self._lazy.discard(name)
            if raw is not None:
                self._state[name] = raw
            return raw
        # Overwritten since the read began: the old value is in the entry once written.
        await self.driver.flush()
        outcome = await self.driver.read_entry(read.index)
        return None if outcome is None else outcome.value

    def state_keys(self, entry_name: str | None = None) -> Awaitable[list[str]]:
        self._require_keyed(write=False)
        outcome = None
        if not self.machine.replaying:
            outcome = Outcome(json.dumps(sorted(self._state.keys() | self._lazy)).encode())
        entry = self._step(EntryKind.STATE_KEYS, outcome=outcome, data=entry_name_data(entry_name))
        assert entry.outcome is not None and entry.outcome.value is not None
        keys: list[str] = json.loads(entry.outcome.value)
        return Ready(keys)

    def _overwrite(self, name: str | None) -> None:
        """Before a state write: the reads journaled by reference keep what they read."""
        self._writes += 1
        if self.machine.replaying:
            return
        names = list(self._ref_gets) if name is None else [name]
        for n in names:
            for index in self._ref_gets.pop(n, ()):
                self.driver.capture(index, n)

    def set(
        self, name: str, value: T, serde: Serde[T] = DefaultSerde(), entry_name: str | None = None
    ) -> None:
        self._require_keyed(write=True)
        raw = resolve_serde(serde, type(value)).serialize(value)
        self._overwrite(name)
        self._step(EntryKind.SET_STATE, name, payload=raw, data=entry_name_data(entry_name))
        self._state[name] = raw
        self._lazy.discard(name)

    def clear(self, name: str, entry_name: str | None = None) -> None:
        self._require_keyed(write=True)
        self._overwrite(name)
        self._step(EntryKind.CLEAR_STATE, name, data=entry_name_data(entry_name))
        self._state.pop(name, None)
        self._lazy.discard(name)

    def clear_all(self, entry_name: str | None = None) -> None:
        self._require_keyed(write=True)
        self._overwrite(None)
        self._step(EntryKind.CLEAR_ALL_STATE, data=entry_name_data(entry_name))
        self._state.clear()
        self._lazy.clear()

    def promise(
        self, name: str, serde: Serde[T] = DefaultSerde(), type_hint: type[T] | None = None
    ) -> DurablePromise[T]:
        """The durable promise `name` of this workflow run (shared by all its handlers)."""
        if self.spec.service_kind != "workflow" or self._key is None:
            raise TerminalError("promises are only available in workflows", 500)
        return DurablePromiseImpl(self, name, resolve_serde(serde, type_hint))
