"""The journal machine of a local attempt: the cursor that replays and records one attempt's
journal entries, with no I/O.

An attempt starts from the stored journal. The handler's context actions come in as `step`
calls; while the cursor is inside the stored journal each step must match the recorded entry
(kind and name), and gets its recorded outcome back. Past the end, steps append new entries.
Entries that must be written (new ones, and ones whose outcome changed in memory) are handed
out by `take_dirty`; completions that arrive from outside come in through `complete`.

Neither the clock nor randomness nor storage is touched here. What the written entries mean to
the store is `awaken.core.effects.entry_effects`'s to say; how the attempt ends, `core.effects`'
and `core.retry`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from awaken.core.journal import IMMEDIATE_KINDS, Entry, EntryKind, Outcome
from awaken.errors import NonDeterminismError


class InvocationMachine:
    __slots__ = ("_cursor", "_dirty", "_entries", "_replay_len")

    def __init__(self, journal: Sequence[Entry] = ()) -> None:
        self._entries: list[Entry] = list(journal)
        for position, entry in enumerate(self._entries):
            if entry.index != position:
                raise ValueError(f"journal has a gap: entry {entry.index} at position {position}")
        self._replay_len = len(self._entries)
        self._cursor = 0
        self._dirty: dict[int, None] = {}  # ordered set of indices to write

    # -- reading -----------------------------------------------------------------------------
    @property
    def replaying(self) -> bool:
        """True while the handler is still re-walking recorded entries."""
        return self._cursor < self._replay_len

    @property
    def length(self) -> int:
        return len(self._entries)

    @property
    def stored_length(self) -> int:
        return self._replay_len

    def next_entry(self) -> Entry | None:
        """The recorded entry the next action will replay; None past the journal."""
        return self._entries[self._cursor] if self.replaying else None

    def entry(self, index: int) -> Entry:
        return self._entries[index]

    def entries(self) -> list[Entry]:
        return list(self._entries)

    def outcome(self, index: int) -> Outcome | None:
        return self._entries[index].outcome

    def completed(self, indices: Iterable[int]) -> list[int]:
        return [i for i in indices if self._entries[i].outcome is not None]

    # -- the handler's actions ---------------------------------------------------------------
    def step(
        self,
        kind: EntryKind,
        name: str = "",
        *,
        data: dict[str, Any] | None = None,
        payload: bytes | None = None,
        outcome: Outcome | None = None,
    ) -> Entry:
        """Journal one action, or match it against the recorded one during replay."""
        index = self._cursor
        self._cursor += 1
        if index < self._replay_len:
            recorded = self._entries[index]
            if recorded.kind != kind or recorded.name != name:
                raise NonDeterminismError(
                    f"non-deterministic replay at journal entry {index}: the journal recorded "
                    f"{recorded.kind.value}({recorded.name!r}) but the handler now does "
                    f"{kind.value}({name!r}). Code outside ctx.run must take the same path on every "
                    f"attempt."
                )
            return recorded
        if outcome is None and kind in IMMEDIATE_KINDS:
            outcome = Outcome()
        entry = Entry(index, kind, name, data or {}, payload, outcome)
        self._entries.append(entry)
        self._dirty[index] = None
        return entry

    def complete(self, index: int, outcome: Outcome, *, durable: bool) -> bool:
        """Record an outcome for an entry. Returns False if it was already complete.

        `durable=True` for completions that were stored before they came in (awakeables, timers,
        calls); `durable=False` for outcomes produced here (a ctx.run result) that still need
        writing.
        """
        if not 0 <= index < len(self._entries):
            return False
        current = self._entries[index]
        if current.outcome is not None:
            return False
        self._entries[index] = current.with_outcome(outcome)
        if not durable:
            self._dirty[index] = None
        return True

    def annotate(self, index: int, data: dict[str, Any]) -> None:
        """Merge `data` into a pending entry's metadata (a step's retry count, say), to be
        written with the next flush. Replays see it; it never takes part in matching."""
        current = self._entries[index]
        if current.outcome is None:
            self._entries[index] = current.with_data(data)
            self._dirty[index] = None

    # -- what must be written ----------------------------------------------------------------
    def has_dirty_before(self, index: int) -> bool:
        """Whether an entry before `index` still needs writing (a ctx.run must not start then)."""
        return any(i < index for i in self._dirty)

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    def take_dirty(self) -> list[Entry]:
        """Entries to write (insert or update), in index order; they count as written after."""
        out = [self._entries[i] for i in sorted(self._dirty)]
        self._dirty.clear()
        return out

    def restore_dirty(self, entries: Iterable[Entry]) -> None:
        """Put back entries whose write failed, so that the next flush retries them."""
        for entry in entries:
            self._dirty[entry.index] = None
