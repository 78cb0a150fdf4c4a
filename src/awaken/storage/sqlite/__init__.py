"""The SQLite store: one file in WAL mode, group commit on the event loop with a sync thread, a
reader thread."""

from __future__ import annotations

from awaken.storage.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
